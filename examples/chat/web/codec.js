// The chat protocol's payload codec (docs/chat-protocol.md), for the browser.
//
// One WebSocket binary message is one payload: a 1-byte tag, then the fields of the message the
// tag names, in order, with nothing after the last one. There is no 4-byte length prefix here:
// WebSocket framing replaces it. Integers are unsigned big-endian; Str8 and Str16 are UTF-8
// behind a 1- or 2-byte byte count. protocols/chat.py is the source of truth for the layout, and
// tests/examples/test_web_codec.py checks this file against it, byte for byte.
//
// Messages are plain objects: {type: "Say", room: "#a", text: "hi"}. u8/u16/u32 fields are
// Numbers; u64 fields (time_ms) decode to BigInt and encode from a BigInt or a safe-integer
// Number. Both directions are encoded and decoded (like protocols.chat.CODEC); the page only
// encodes client messages and expects server ones (see isServerMessage).
//
// Exposed as the global ActornetChatCodec:
//   encode(message) -> Uint8Array        throws CodecError for a message that cannot be encoded
//   decode(bytes)   -> message           bytes: Uint8Array, ArrayBuffer or an array of numbers;
//                                        throws CodecError for a malformed payload
//   CodecError, MESSAGES, ERROR_CODES, errorName(code), isServerMessage(type),
//   PROTOCOL_VERSION, MAX_PAYLOAD_SIZE, FATAL_ERRORS
"use strict";

(function (global) {
  const PROTOCOL_VERSION = 1;
  // The largest payload either side may send (MAX_FRAME_SIZE). encode() and decode() do not
  // check it, as protocols.chat's codec does not: the connection does (see chat.js).
  const MAX_PAYLOAD_SIZE = 8192;

  // tag, name, fields [name, type]: the table of docs/chat-protocol.md, in order.
  const MESSAGES = [
    [0x01, "Hello", [["version", "u8"], ["nick", "str8"]]],
    [0x02, "SetNick", [["nick", "str8"]]],
    [0x03, "Join", [["room", "str8"]]],
    [0x04, "Leave", [["room", "str8"], ["reason", "str16"]]],
    [0x05, "Say", [["room", "str8"], ["text", "str16"]]],
    [0x06, "Whisper", [["to", "str8"], ["text", "str16"]]],
    [0x07, "ListRooms", []],
    [0x08, "ListNames", [["room", "str8"]]],
    [0x09, "SetTopic", [["room", "str8"], ["topic", "str16"]]],
    [0x0a, "Ping", [["token", "u32"]]],
    [0x0b, "Pong", [["token", "u32"]]],
    [0x0c, "Quit", [["reason", "str16"]]],
    [0x81, "Welcome", [["version", "u8"], ["nick", "str8"], ["server", "str8"]]],
    [0x82, "NickChanged", [["room", "str8"], ["old", "str8"], ["new", "str8"]]],
    [0x83, "Joined", [["room", "str8"], ["nick", "str8"]]],
    [0x84, "Left", [["room", "str8"], ["nick", "str8"], ["reason", "str16"]]],
    [0x85, "Said", [["room", "str8"], ["nick", "str8"], ["text", "str16"], ["time_ms", "u64"]]],
    [0x86, "Whispered",
      [["sender", "str8"], ["to", "str8"], ["text", "str16"], ["time_ms", "u64"]]],
    [0x87, "RoomInfo", [["room", "str8"], ["members", "u32"], ["topic", "str16"]]],
    [0x88, "RoomListEnd", [["count", "u32"]]],
    [0x89, "Names", [["room", "str8"], ["nicks", "str16"]]],
    [0x8a, "Topic", [["room", "str8"], ["topic", "str16"], ["set_by", "str8"]]],
    [0x8b, "History", [["room", "str8"], ["nick", "str8"], ["text", "str16"], ["time_ms", "u64"]]],
    [0x8c, "ServerPing", [["token", "u32"]]],
    [0x8d, "ServerPong", [["token", "u32"]]],
    [0x8e, "Quitted", [["room", "str8"], ["nick", "str8"], ["reason", "str16"]]],
    [0x8f, "Error", [["code", "u16"], ["subject", "str8"], ["detail", "str16"]]],
    [0x90, "Notice", [["text", "str16"]]],
    [0x91, "NamesEnd", [["room", "str8"], ["count", "u32"]]],
  ];

  // ErrorCode of protocols/chat.py: code -> name.
  const ERROR_CODES = {
    1: "MALFORMED",
    2: "FRAME_TOO_LARGE",
    3: "UNEXPECTED_MESSAGE",
    4: "UNSUPPORTED_VERSION",
    5: "NOT_REGISTERED",
    6: "INVALID_NICK",
    7: "NICK_IN_USE",
    8: "INVALID_ROOM",
    9: "NOT_IN_ROOM",
    10: "NO_SUCH_NICK",
    11: "INVALID_TEXT",
    12: "RATE_LIMITED",
    13: "IDLE_TIMEOUT",
    14: "LIMIT_REACHED",
  };
  // Codes after which the server closes the connection (IDLE_TIMEOUT too, but a client may
  // reconnect after it; these it should not, as trying again fails the same way).
  const FATAL_ERRORS = new Set([1, 2, 3, 4]);

  const INTS = { u8: [1, 0xff], u16: [2, 0xffff], u32: [4, 0xffffffff] };
  const U64_MAX = (1n << 64n) - 1n;

  const byTag = new Map();
  const byName = new Map();
  for (const [tag, name, fields] of MESSAGES) {
    const entry = { tag, name, fields };
    byTag.set(tag, entry);
    byName.set(name, entry);
  }

  class CodecError extends Error {
    constructor(message) {
      super(message);
      this.name = "CodecError";
    }
  }

  const utf8Encoder = new TextEncoder();
  // fatal: invalid UTF-8 throws; ignoreBOM: a leading U+FEFF is text, kept as Python keeps it.
  const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  function hex(value, width) {
    return "0x" + value.toString(16).padStart(width, "0");
  }

  function isWellFormed(text) {
    if (typeof text.isWellFormed === "function") {
      return text.isWellFormed();
    }
    return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
  }

  function errorName(code) {
    return Object.prototype.hasOwnProperty.call(ERROR_CODES, code) ? ERROR_CODES[code] : String(code);
  }

  function isServerMessage(type) {
    const entry = byName.get(type);
    return entry !== undefined && entry.tag >= 0x80;
  }

  // -- encode ---------------------------------------------------------------------------------

  function encodeField(entry, name, type, value, parts) {
    const where = `${entry.name}.${name}`;
    if (type === "str8" || type === "str16") {
      if (typeof value !== "string") {
        throw new CodecError(`${where} must be a string, not ${describe(value)}`);
      }
      if (!isWellFormed(value)) {
        throw new CodecError(`${where} holds a lone surrogate, which UTF-8 cannot encode`);
      }
      const bytes = utf8Encoder.encode(value);
      const limit = type === "str8" ? 0xff : 0xffff;
      if (bytes.length > limit) {
        throw new CodecError(
          `${where} is ${bytes.length} bytes of UTF-8; a ${type === "str8" ? "Str8" : "Str16"} ` +
            `holds at most ${limit}`,
        );
      }
      parts.push(type === "str8" ? [bytes.length] : [bytes.length >> 8, bytes.length & 0xff]);
      parts.push(bytes);
      return;
    }
    if (type === "u64") {
      let big;
      if (typeof value === "bigint") {
        big = value;
      } else if (typeof value === "number" && Number.isSafeInteger(value)) {
        big = BigInt(value);
      } else {
        throw new CodecError(`${where} must be a BigInt or a safe integer, not ${describe(value)}`);
      }
      if (big < 0n || big > U64_MAX) {
        throw new CodecError(`${where} = ${big} is outside u64 (0..2^64-1)`);
      }
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, big, false);
      parts.push(out);
      return;
    }
    const [size, max] = INTS[type];
    let number = value;
    if (typeof value === "bigint" && value >= 0n && value <= BigInt(max)) {
      number = Number(value);
    }
    if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > max) {
      throw new CodecError(`${where} must be an integer 0..${max} (${type}), not ${describe(value)}`);
    }
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    if (size === 1) view.setUint8(0, number);
    else if (size === 2) view.setUint16(0, number, false);
    else view.setUint32(0, number, false);
    parts.push(out);
  }

  function describe(value) {
    if (value === undefined) return "missing";
    if (typeof value === "string") return JSON.stringify(value.length > 20 ? value.slice(0, 20) + "…" : value);
    if (typeof value === "number" || typeof value === "bigint") return String(value);
    return typeof value;
  }

  function encode(message) {
    if (message === null || typeof message !== "object") {
      throw new CodecError(`a message is an object with a type, not ${describe(message)}`);
    }
    const entry = byName.get(message.type);
    if (entry === undefined) {
      throw new CodecError(`unknown message type ${describe(message.type)}`);
    }
    const parts = [[entry.tag]];
    for (const [name, type] of entry.fields) {
      encodeField(entry, name, type, message[name], parts);
    }
    let length = 0;
    for (const part of parts) length += part.length;
    const out = new Uint8Array(length);
    let pos = 0;
    for (const part of parts) {
      out.set(part, pos);
      pos += part.length;
    }
    return out;
  }

  // -- decode ---------------------------------------------------------------------------------

  function toBytes(bytes) {
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (Array.isArray(bytes)) return Uint8Array.from(bytes);
    throw new CodecError(`decode() takes a Uint8Array, an ArrayBuffer or an array, not ${describe(bytes)}`);
  }

  function decode(input) {
    const bytes = toBytes(input);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length === 0) {
      throw new CodecError("empty payload: no tag");
    }
    const entry = byTag.get(bytes[0]);
    if (entry === undefined) {
      throw new CodecError(`unknown tag ${hex(bytes[0], 2)}`);
    }
    const message = { type: entry.name };
    let pos = 1;
    const need = (name, what, size) => {
      if (pos + size > bytes.length) {
        throw new CodecError(
          `${entry.name}.${name}: ${what} needs ${size} bytes at offset ${pos}, ` +
            `but the ${bytes.length}-byte payload has ${bytes.length - pos} left`,
        );
      }
    };
    for (const [name, type] of entry.fields) {
      switch (type) {
        case "u8":
          need(name, "u8", 1);
          message[name] = view.getUint8(pos);
          pos += 1;
          break;
        case "u16":
          need(name, "u16", 2);
          message[name] = view.getUint16(pos, false);
          pos += 2;
          break;
        case "u32":
          need(name, "u32", 4);
          message[name] = view.getUint32(pos, false);
          pos += 4;
          break;
        case "u64":
          need(name, "u64", 8);
          message[name] = view.getBigUint64(pos, false);
          pos += 8;
          break;
        default: {
          const prefix = type === "str8" ? 1 : 2;
          need(name, "the byte count", prefix);
          const count = prefix === 1 ? view.getUint8(pos) : view.getUint16(pos, false);
          pos += prefix;
          need(name, "the string", count);
          try {
            message[name] = utf8Decoder.decode(bytes.subarray(pos, pos + count));
          } catch (error) {
            throw new CodecError(`${entry.name}.${name}: invalid UTF-8 at offset ${pos}`);
          }
          pos += count;
        }
      }
    }
    if (pos !== bytes.length) {
      throw new CodecError(
        `${entry.name}: ${bytes.length - pos} trailing bytes after the message ` +
          `(it ends at byte ${pos} of the ${bytes.length}-byte payload)`,
      );
    }
    return message;
  }

  global.ActornetChatCodec = Object.freeze({
    encode,
    decode,
    CodecError,
    MESSAGES,
    ERROR_CODES,
    FATAL_ERRORS,
    errorName,
    isServerMessage,
    PROTOCOL_VERSION,
    MAX_PAYLOAD_SIZE,
  });
})(globalThis);
