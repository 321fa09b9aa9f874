/**
 * Realistic PrivMX Bridge `threadNewMessage` notifications (~385 bytes each) spread over 10 threads,
 * pre-encoded as unmasked server WebSocket text frames so the sender costs next to nothing and the
 * figures measure the receiver.
 */
export const THREAD_IDS = Array.from(
  { length: 10 },
  (_, i) => `66715bd6ef3efd9ecfe7a1${(0xc0 + i).toString(16)}`,
);
/** the thread every benchmark flow is interested in: one of ten, so ~10% of the events match */
export const WATCHED_THREAD = THREAD_IDS[3];
export const CONTEXT_ID = '662115304034ea5684acac8b';
const AUTHORS = ['janek', 'ops-alerts', 'm.kowalska', 'backup-bot', 'support-desk', 'anna.nowak'];
const SUBJECTS = [
  'Disk usage above 90% on db-02',
  'Nightly backup finished with warnings',
  'New support ticket from ACME Corp',
  'Certificate for api.example.com expires in 7 days',
  'Deployment of build 2026.11.3 completed',
];

/** mulberry32: a tiny seeded PRNG, so every run pushes the same events */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

export interface BridgeEvent {
  channel: 'thread';
  type: 'threadNewMessage';
  data: {
    id: string;
    contextId: string;
    threadId: string;
    createDate: number;
    author: string;
    keyId: string;
    publicMeta: Record<string, unknown> | null;
  };
  timestamp: number;
}

export function makeEvent(random: () => number, seq: number, now = 1795344357527): BridgeEvent {
  const threadId = THREAD_IDS[Math.floor(random() * THREAD_IDS.length)];
  const author = AUTHORS[Math.floor(random() * AUTHORS.length)];
  return {
    channel: 'thread',
    type: 'threadNewMessage',
    data: {
      id: `6718ca61${hex(random, 8)}${seq.toString(16).padStart(8, '0')}`,
      contextId: CONTEXT_ID,
      threadId,
      createDate: now + seq,
      author,
      keyId: 'key-2026-11-primary',
      publicMeta: {
        kind: 'alert',
        severity: random() < 0.2 ? 'high' : 'normal',
        subject: SUBJECTS[Math.floor(random() * SUBJECTS.length)],
        tags: ['ops'],
      },
    },
    timestamp: now + seq,
  };
}

/** the filter every consumer applies: a new message in the watched thread */
export function matches(event: { type?: unknown; data?: { threadId?: unknown } }): boolean {
  return event.type === 'threadNewMessage' && !!event.data && event.data.threadId === WATCHED_THREAD;
}

/** WebSocket frame header for an unmasked server text frame of `length` bytes */
export function frameHeader(length: number, opcode = 0x1): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65536) {
    const header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

export function encodeFrame(text: string | Buffer, opcode = 0x1): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  return Buffer.concat([frameHeader(body.length, opcode), body]);
}

/**
 * `size` distinct events as one contiguous buffer of frames. Stream position p sends pool frame
 * p % size, so any stream length costs no allocation.
 */
export class FramePool {
  readonly buffer: Buffer;
  /** byte offset of frame i; offsets[size] = buffer length */
  readonly offsets: Uint32Array;
  /** whether pool frame i matches the filter */
  readonly matching: Uint8Array;
  readonly averageBytes: number;

  constructor(
    readonly size: number,
    seed = 42,
  ) {
    const random = prng(seed);
    const frames: Buffer[] = [];
    this.offsets = new Uint32Array(size + 1);
    this.matching = new Uint8Array(size);
    let offset = 0;
    let payloadBytes = 0;
    for (let i = 0; i < size; i++) {
      const event = makeEvent(random, i);
      const json = JSON.stringify(event);
      payloadBytes += Buffer.byteLength(json);
      const frame = encodeFrame(json);
      frames.push(frame);
      this.offsets[i] = offset;
      offset += frame.length;
      this.matching[i] = matches(event) ? 1 : 0;
    }
    this.offsets[size] = offset;
    this.buffer = Buffer.concat(frames, offset);
    this.averageBytes = payloadBytes / size;
  }

  /** stream positions (0-based) of the matching events among the first `total` */
  matchPositions(total: number): Uint32Array {
    let count = 0;
    for (let p = 0; p < total; p++) count += this.matching[p % this.size];
    const out = new Uint32Array(count);
    let k = 0;
    for (let p = 0; p < total; p++) if (this.matching[p % this.size]) out[k++] = p;
    return out;
  }
}
