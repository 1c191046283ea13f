/**
 * The parts of ws's client WebSocket that ReconnectingWebSocket uses, declared structurally so
 * routeguard's public types compile without ws installed (ws is an optional peer dependency:
 * importing its types would make every consumer's `tsc` fail with TS2307 'ws'). ws's WebSocket
 * class satisfies these; cast `socket` to ws's WebSocket where you need the rest of its API.
 */
import type { Socket } from 'node:net';

/** A message as ws delivers it: a Buffer, an ArrayBuffer or Buffer fragments, by `binaryType`. */
export type WsMessageData = Buffer | ArrayBuffer | Buffer[];

/** What ws's send() accepts. */
export type WsSendData = string | Buffer | ArrayBuffer | ArrayBufferView | SharedArrayBuffer | Blob | readonly unknown[];

/** Options for ws's client constructor (ws's ClientOptions and http.request options). */
export interface WsClientOptions {
  [option: string]: unknown;
}

/** A client WebSocket as ReconnectingWebSocket uses it (ws's WebSocket is one). */
export interface WsClient {
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  /** ws's socket, set once the upgrade is done. */
  readonly _socket?: Socket | null;
  send(data: WsSendData, callback?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open', listener: () => void): unknown;
  on(event: 'message', listener: (data: WsMessageData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'open' | 'close', listener: (...args: unknown[]) => void): unknown;
  off(event: 'open' | 'close', listener: (...args: unknown[]) => void): unknown;
}
