export { createServer, dashboardUrl, DEFAULT_LIVE } from './server.ts';
export type { ServerOptions, LiveOptions, AutopatchServerInfo } from './server.ts';
export type * from './archive-types.ts';
export { decodeTraceFrame, decodeTraceFrames, encodeTraceFrame, FRAME_HEADER_BYTES } from './trace-frame.ts';
export type { TraceFrame, TraceFrameInput, TraceKind, TraceEncoding } from './trace-frame.ts';
