/** One round trip over an open WebSocket whose peer echoes. */
import type { WebSocket } from 'ws';

/** Sends `text` and resolves true when the same text comes back within `timeoutMs`, else false. */
export function echoOver(ws: WebSocket, text: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (ws.readyState !== ws.OPEN) return resolve(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onMessage = (data: unknown) => {
      if (String(data) === text) finish(true);
    };
    function finish(ok: boolean) {
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(ok);
    }
    ws.on('message', onMessage);
    ws.send(text);
  });
}
