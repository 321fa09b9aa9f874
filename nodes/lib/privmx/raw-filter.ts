/**
 * Don't parse what you can reject: with one watched thread most Bridge frames are parsed only to be
 * dropped. A frame's bytes already tell whether any `privmx in` node could want it: a type a node
 * selected occurs in it as `"<type>"`, a container id as itself (the fields `containerIdOf` and
 * `inboxIdOf` read, an inbox id inside its `<inbox-…>` keyId). Without an escape in the frame the
 * parsed strings are exactly those bytes, so a frame holding none of a node's needles cannot pass
 * that node's filter. A false "maybe" only costs a parse; a wanted frame is never rejected.
 */
import type { PrivmxUser, TypeAndContainerSelection } from './subscriber';

/** One node's needles; undefined = that part is not restricted. */
interface Needles {
  /** each type followed by its closing quote (the opening one is checked apart: see holdsString) */
  readonly types: readonly Buffer[] | undefined;
  readonly ids: readonly Buffer[] | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const JSONRPC = Buffer.from('jsonrpc"');

/** Plain printable ASCII without `"` or `\`: such a string reads the same in the frame's bytes. */
function plain(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A node's needles, or undefined when its selection cannot be searched for (then parse everything). */
function needlesOf(selection: TypeAndContainerSelection | undefined): Needles | undefined {
  if (selection === undefined) return undefined;
  const { types, containerIds } = selection;
  if (types.length === 0 && containerIds.length === 0) return undefined;
  if (!types.every(plain) || !containerIds.every(plain)) return undefined;
  return {
    types: types.length ? types.map((t) => Buffer.from(`${t}"`, 'latin1')) : undefined,
    ids: containerIds.length ? containerIds.map((id) => Buffer.from(id, 'latin1')) : undefined,
  };
}

function holdsAny(bytes: Buffer, needles: readonly Buffer[]): boolean {
  for (let i = 0; i < needles.length; i++) if (bytes.indexOf(needles[i]) !== -1) return true;
  return false;
}

/**
 * Whether `"<text>"` occurs, given `<text>"`. Searching with the opening quote first is about three
 * times slower (a JSON frame is full of quotes: each one is a candidate), so it is checked after.
 */
function holdsString(bytes: Buffer, textAndQuote: Buffer): boolean {
  let at = bytes.indexOf(textAndQuote, 1);
  while (at !== -1) {
    if (bytes[at - 1] === QUOTE) return true;
    at = bytes.indexOf(textAndQuote, at + 1);
  }
  return false;
}

function holdsAnyString(bytes: Buffer, needles: readonly Buffer[]): boolean {
  for (let i = 0; i < needles.length; i++) if (holdsString(bytes, needles[i])) return true;
  return false;
}

/** ids first: usually the rarer needle, so an unwanted frame fails sooner */
function mightWant(bytes: Buffer, n: Needles): boolean {
  return (
    (n.ids === undefined || holdsAny(bytes, n.ids)) &&
    (n.types === undefined || holdsAnyString(bytes, n.types))
  );
}

/**
 * The needles of a connection's live set of users, rebuilt after the set changed (`changed()`), never
 * per frame. Only notifications are judged here: the session parses every frame while a request is
 * pending or before it is subscribed, and a frame naming `"jsonrpc"` or holding an escape is always
 * parsed.
 */
export class RawFilter {
  /** undefined = some node may want any frame: nothing is rejected */
  private needles: readonly Needles[] | undefined;
  private stale = true;

  constructor(private readonly users: ReadonlySet<PrivmxUser>) {}

  /** The set of users changed: rebuild before the next frame is judged. */
  changed(): void {
    this.stale = true;
  }

  /** Whether the raw filter is on (some frames can be rejected unparsed). */
  get active(): boolean {
    return this.current() !== undefined;
  }

  /** false = no node could want this frame: skip it unparsed. */
  mightWant(bytes: Buffer): boolean {
    const all = this.current();
    if (all === undefined) return true;
    for (let i = 0; i < all.length; i++) if (mightWant(bytes, all[i])) return true;
    // an escape could hide a needle; a JSON-RPC answer is never a notification
    return bytes.indexOf(BACKSLASH) !== -1 || holdsString(bytes, JSONRPC);
  }

  private current(): readonly Needles[] | undefined {
    if (this.stale) {
      this.stale = false;
      this.needles = build(this.users);
    }
    return this.needles;
  }
}

function build(users: ReadonlySet<PrivmxUser>): Needles[] | undefined {
  const all: Needles[] = [];
  for (const user of users) {
    const needles = needlesOf(user.selection);
    if (needles === undefined) return undefined;
    all.push(needles);
  }
  return all;
}
