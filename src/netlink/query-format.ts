/**
 * The packed route-query format the addon reads (RouteLookup::GetMany): fixed-size
 * records, one per RTM_GETROUTE query. Field-for-field mirror of native/query_format.h —
 * change both together. u32 fields are host-endian; every field is 4-byte aligned.
 */

export const QUERY_RECORD_BYTES = 52;
export const QUERY_RECORD_WORDS = QUERY_RECORD_BYTES / 4;

/** Byte offsets inside a record. */
export const QUERY_FAMILY = 0;
export const QUERY_PRESENT = 1;
export const QUERY_TO = 4;
export const QUERY_FROM = 20;
/** Word offsets inside a record (u32 fields). */
export const QUERY_OIF_WORD = 9;
export const QUERY_IIF_WORD = 10;
export const QUERY_MARK_WORD = 11;
export const QUERY_UID_WORD = 12;

/** Presence bits (byte QUERY_PRESENT). */
export const QUERY_HAS_FROM = 1;
export const QUERY_HAS_OIF = 2;
export const QUERY_HAS_IIF = 4;
export const QUERY_HAS_MARK = 8;
export const QUERY_HAS_UID = 16;
