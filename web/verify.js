// minijwt's verification rules, again, in the browser: the token debugger's engine.
//
// This file applies the checks of src/jwt/ in the same order and names each failure
// with the words of `minijwt token explain` (src/jwt/error.rs), so that the page and
// the command line give the same verdict for the same token, key and clock (for bytes
// that are not JSON, serde_json's words and the position it states too). It has
// no DOM code: app.js shows what it finds. The HMAC is WebCrypto's; nothing leaves
// the browser. Where this file and the library disagree, the library is right and
// this file has a bug (the browser test compares the two).
'use strict';

// eslint-disable-next-line no-unused-vars
const StrictJwt = (() => {
  /** The header `encode` writes, {"alg":"HS256","typ":"JWT"}, as base64url. */
  const DEFAULT_HEADER_B64 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9';
  const MAX_TOKEN_LEN = 8 * 1024;
  const MIN_KEY_LEN = 32;
  const MAX_NUMERIC_DATE = 253_402_300_799; // 9999-12-31T23:59:59Z
  const MAX_DEPTH = 127;
  const MAX_ECHO = 64;
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  /** A failure: `code` is the Rust variant's name, `message` its Display. */
  class JwtError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  /** Untrusted text copied into a message: cut to 64 characters (Error::MAX_ECHO). */
  function echo(text) {
    const chars = Array.from(text);
    return chars.length > MAX_ECHO ? `${chars.slice(0, MAX_ECHO).join('')}…` : text;
  }

  // Rust's char::escape_debug (core::unicode): a char is written as \u{hex} when it
  // extends a grapheme or is not printable, i.e. of the general categories Cc, Cf, Cs,
  // Co, Cn, Zl, Zp or Zs (but the space). (The Unicode versions of the browser and of
  // Rust may differ on a character assigned recently.)
  const ESCAPED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]/u;

  /** One char as Rust's `{:?}` of a str writes it; `quotes`: escape '"' and '\\' too. */
  function escapeChar(c, quotes) {
    if (c === '\0') return '\\0';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    if (c === '\n') return '\\n';
    if (quotes && (c === '"' || c === '\\')) return `\\${c}`;
    if (c !== ' ' && ESCAPED.test(c)) return `\\u{${c.codePointAt(0).toString(16)}}`;
    return c;
  }

  /** A string as Rust's `{:?}` writes it (quotes, escapes). */
  function debugString(text) {
    return `"${Array.from(text, (c) => escapeChar(c, true)).join('')}"`;
  }

  /** Decoded text with its invisible characters shown as Rust's `{:?}` shows them (\r, \n, \u{a0}...). */
  const visible = (text) => Array.from(text, (c) => escapeChar(c, false)).join('');

  /** Strings in Rust's order: by code point (UTF-8 bytes), not by UTF-16 unit. */
  function byCodePoint(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
    return x.length - y.length;
  }

  const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

  /**
   * Rust's `str::trim`: the characters with the Unicode White_Space property, exactly
   * (JavaScript's `trim` also strips U+FEFF and keeps U+0085: not the same set).
   */
  const RUST_WS = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
  const RUST_TRIM = new RegExp(`^${RUST_WS}+|${RUST_WS}+$`, 'g');
  const trim = (text) => text.replace(RUST_TRIM, '');

  // ---- base64url: canonical and unpadded only (src/jwt/base64url.rs) ------------

  /** The DecodeError's words, with the offending character (never for a key). */
  function describeByte(index, byte, forKey) {
    if (forKey) return `invalid character at offset ${index}`;
    if (byte === 0x3d) return `padding '=' at offset ${index} (base64url in JWT is unpadded)`;
    if (byte === 0x2b || byte === 0x2f) return `'${String.fromCharCode(byte)}' at offset ${index} is standard base64, not base64url`;
    if (byte >= 0x21 && byte <= 0x7e) return `invalid character '${String.fromCharCode(byte)}' at offset ${index}`;
    return `invalid byte 0x${byte.toString(16).padStart(2, '0')} at offset ${index}`;
  }

  /** Decodes base64url text; throws an Error whose message is DecodeError's Display. */
  function b64uDecode(text, forKey = false) {
    const bytes = new TextEncoder().encode(text);
    const values = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i] < 0x80 ? ALPHABET.indexOf(String.fromCharCode(bytes[i])) : -1;
      if (v < 0) throw new Error(describeByte(i, bytes[i], forKey));
      values[i] = v;
    }
    if (values.length % 4 === 1) {
      throw new Error(`invalid length ${values.length} (a length of 1 modulo 4 encodes nothing)`);
    }
    const out = new Uint8Array(Math.floor((values.length * 3) / 4));
    let o = 0;
    for (let i = 0; i < values.length; i += 4) {
      const n = Math.min(4, values.length - i);
      let acc = 0;
      for (let j = 0; j < 4; j++) acc = (acc << 6) | (j < n ? values[i + j] : 0);
      const chunk = [(acc >> 16) & 0xff, (acc >> 8) & 0xff, acc & 0xff].slice(0, n - 1);
      for (const b of chunk) out[o++] = b;
      if (n < 4) {
        // The unused low bits of the last character must be zero (RFC 4648 §3.5).
        const unused = n === 2 ? values[i + 1] & 0x0f : values[i + 2] & 0x03;
        if (unused !== 0) throw new Error('non-canonical encoding: the last character has non-zero unused bits');
      }
    }
    return out.slice(0, o);
  }

  function b64uEncode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = Math.min(3, bytes.length - i);
      const acc = (bytes[i] << 16) | ((n > 1 ? bytes[i + 1] : 0) << 8) | (n > 2 ? bytes[i + 2] : 0);
      for (let j = 0; j <= n; j++) out += ALPHABET[(acc >> (18 - 6 * j)) & 0x3f];
    }
    return out;
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  // ---- strict JSON (src/jwt/json.rs) ----------------------------------------------

  /**
   * Parses one JSON text the way the library reads a header or payload: RFC 8259 only
   * (what serde_json accepts), a member name twice in one object refused at any depth
   * (reported when that object closes, names compared after unescaping), nesting at most
   * 127 deep. Returns { value, kinds }: kinds maps each top-level member to 'int',
   * 'float' or the JSON type, as the library keeps registered claims.
   */
  function parseJson(text) {
    let i = 0;
    let depth = 0;
    // Reading a top level that is no object, the library asks serde_json only whether it
    // is JSON at all (IgnoredAny): no depth limit, no repeated names, no number range, no
    // surrogate pairing. Then `lenient` is set, and ignoreValue judges only syntax.
    let lenient = false;
    const ints = new Map(); // each top-level integer member, exactly (BigInt): a Number rounds past 2^53
    // Where serde_json says a syntax error is: line, and column in bytes (UTF-8), of
    // position `p` (a UTF-16 index here) plus `extra` bytes. serde_json states either the
    // byte it peeked at (`syntax`: one past the bytes before it) or the end of what it
    // consumed (`syntaxAt`); each error below is stated as serde_json's code states it.
    const utf8 = new TextEncoder();
    const where = (p, extra) => {
      const before = text.slice(0, p);
      const lineStart = before.lastIndexOf('\n') + 1;
      const line = before.slice(0, lineStart).split('\n').length;
      return `line ${line} column ${utf8.encode(before.slice(lineStart)).length + extra}`;
    };
    const syntaxAt = (what, p, extra = 0) => { throw new JwtError('Json', `${what} at ${where(p, extra)}`); };
    const syntax = (what) => syntaxAt(what, i, i < text.length ? 1 : 0);
    const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };

    function string() {
      i++; // the opening quote
      let out = '';
      for (;;) {
        if (i >= text.length) syntax('EOF while parsing a string');
        const c = text[i];
        if (c === '"') { i++; return out; }
        if (c.charCodeAt(0) < 0x20) syntax('control character (\\u0000-\\u001F) found while parsing a string');
        if (c !== '\\') { out += c; i++; continue; }
        const e = text[i + 1];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) { out += simple[e]; i += 2; continue; }
        i += 1;
        if (e === undefined) syntax('EOF while parsing a string');
        if (e !== 'u') syntax('invalid escape');
        // Four bytes are read, then judged (serde_json's decode_hex_escape).
        const unit = (at) => {
          if (utf8.encode(text.slice(at, at + 4)).length < 4) syntaxAt('EOF while parsing a string', text.length);
          const h = text.slice(at, at + 4);
          if (!/^[0-9A-Fa-f]{4}$/.test(h)) syntaxAt('invalid escape', at, 4);
          return parseInt(h, 16);
        };
        const first = unit(i + 1);
        i += 5;
        if (lenient) { out += String.fromCharCode(first); continue; }
        if (first >= 0xdc00 && first <= 0xdfff) syntaxAt('lone leading surrogate in hex escape', i);
        if (first >= 0xd800 && first <= 0xdbff) {
          for (const want of ['\\', 'u']) {
            if (i >= text.length) syntax('EOF while parsing a string');
            if (text[i] !== want) syntax('unexpected end of hex escape');
            i += 1;
          }
          const second = unit(i);
          i += 4;
          if (second < 0xdc00 || second > 0xdfff) syntaxAt('lone leading surrogate in hex escape', i);
          out += String.fromCharCode(first, second);
        } else {
          out += String.fromCharCode(first);
        }
      }
    }

    /** A number, read as serde_json reads one (its errors where it states them). */
    function number() {
      const start = i;
      const digit = () => i < text.length && text[i] >= '0' && text[i] <= '9';
      const digits = () => { while (digit()) i++; };
      // At the end of the text serde_json says EOF (IgnoredAny: "invalid number").
      const missing = (consumed) => {
        if (i >= text.length) syntaxAt(lenient ? 'invalid number' : 'EOF while parsing a value', text.length);
        if (consumed) syntaxAt('invalid number', i, 1);
        syntax('invalid number');
      };
      if (text[i] === '-') i++;
      if (text[i] === '0') {
        i++;
        if (digit()) syntax('invalid number');
      } else if (digit()) {
        digits();
      } else {
        missing(true);
      }
      let fraction = false;
      let exponent = false;
      if (text[i] === '.') {
        fraction = true;
        i++;
        if (!digit()) missing(false);
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        exponent = true;
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        if (!digit()) missing(true);
        digits();
      }
      const literal = text.slice(start, i);
      const n = Number(literal);
      if (!Number.isFinite(n) && !lenient) syntaxAt('number out of range', i);
      // serde_json: an integer that fits i64 (but -0) is an integer, anything else a float.
      if (!fraction && !exponent && literal !== '-0') {
        const big = BigInt(literal);
        if (big >= -(2n ** 63n) && big < 2n ** 63n) return { kind: 'int', value: n, big };
      }
      return { kind: 'float', value: n };
    }

    function value() {
      ws();
      const c = text[i];
      if (c === '{') return object();
      if (c === '[') return array();
      if (c === '"') return { kind: 'a string', value: string() };
      if (c === '-' || (c >= '0' && c <= '9')) return number();
      for (const [word, v, kind] of [['true', true, 'a boolean'], ['false', false, 'a boolean'], ['null', null, 'null']]) {
        if (c !== word[0]) continue;
        // serde_json's parse_ident: the first letter chose the word; each next one must follow.
        for (const letter of word.slice(1)) {
          i++;
          if (i >= text.length) syntaxAt('EOF while parsing a value', text.length);
          if (text[i] !== letter) syntax('expected ident');
        }
        i++;
        return { kind, value: v };
      }
      if (i >= text.length) syntax('EOF while parsing a value');
      return syntax('expected value');
    }

    /**
     * serde_json's ignore_value, for a top level that is no object (IgnoredAny): the same
     * syntax, read without recursion (any depth) and without building anything.
     */
    function ignoreValue() {
      const outer = []; // the containers around the one being read
      let enclosing = null;
      for (;;) {
        ws();
        if (i >= text.length) syntax('EOF while parsing a value');
        const c = text[i];
        let frame = null;
        if (c === '[' || c === '{') {
          if (enclosing) outer.push(enclosing);
          enclosing = null;
          i++;
          frame = c;
        } else if ('"-0123456789tfn'.includes(c)) {
          value(); // a scalar: no recursion
        } else {
          syntax('expected value');
        }
        let acceptComma = true;
        if (frame) acceptComma = false;
        else if (enclosing) { frame = enclosing; enclosing = null; } else if (outer.length) frame = outer.pop();
        else return;
        for (;;) {
          ws();
          const list = frame === '[';
          if (i >= text.length) syntax(list ? 'EOF while parsing a list' : 'EOF while parsing an object');
          if (text[i] === ',' && acceptComma) { i++; break; }
          if (text[i] === (list ? ']' : '}')) {
            i++;
            if (!outer.length) return;
            frame = outer.pop();
            acceptComma = true;
            continue;
          }
          if (acceptComma) syntax(list ? 'expected `,` or `]`' : 'expected `,` or `}`');
          break;
        }
        if (frame === '{') {
          ws();
          if (i >= text.length) syntax('EOF while parsing a value');
          if (text[i] !== '"') syntax('key must be a string');
          string();
          ws();
          if (i >= text.length) syntax('EOF while parsing an object');
          if (text[i] !== ':') syntax('expected `:`');
          i++;
        }
        enclosing = frame;
      }
    }

    function nest() {
      depth += 1;
      if (depth > MAX_DEPTH) syntax('recursion limit exceeded');
    }

    function array() {
      nest();
      i++;
      const out = [];
      ws();
      if (text[i] === ']') { i++; depth -= 1; return { kind: 'an array', value: out }; }
      for (;;) {
        out.push(value().value);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === ']') syntax('trailing comma');
          if (i >= text.length) syntax('EOF while parsing a value');
          continue;
        }
        if (text[i] === ']') { i++; depth -= 1; return { kind: 'an array', value: out }; }
        if (i >= text.length) syntax('EOF while parsing a list');
        syntax('expected `,` or `]`');
      }
    }

    function object(kinds) {
      nest();
      i++;
      const out = {};
      const names = [];
      ws();
      if (text[i] !== '}') {
        for (;;) {
          ws();
          if (text[i] !== '"') {
            if (i >= text.length) syntax('EOF while parsing an object');
            syntax('key must be a string');
          }
          const name = string();
          ws();
          if (text[i] !== ':') {
            if (i >= text.length) syntax('EOF while parsing an object');
            syntax('expected `:`');
          }
          i++;
          const v = value();
          names.push(name);
          // Own data property, whatever the name ("__proto__" included).
          Object.defineProperty(out, name, { value: v.value, enumerable: true, writable: true, configurable: true });
          if (kinds) kinds.set(name, v.kind);
          if (kinds && v.big !== undefined) ints.set(name, v.big);
          ws();
          if (text[i] === ',') {
            i++;
            ws();
            if (text[i] === '}') syntax('trailing comma');
            if (i >= text.length) syntax('EOF while parsing a value');
            continue;
          }
          if (text[i] === '}') break;
          if (i >= text.length) syntax('EOF while parsing an object');
          syntax('expected `,` or `}`');
        }
      }
      i++;
      depth -= 1;
      // As the library (json.rs first_repeat): a repeated name is reported when its object
      // closes; with at most 16 members the first that repeats an earlier one, with more
      // the smallest repeated name in code point order.
      {
        let duplicate;
        if (names.length <= 16) {
          duplicate = names.find((name, k) => names.indexOf(name) < k);
        } else {
          const sorted = [...names].sort(byCodePoint);
          duplicate = sorted.find((name, k) => k > 0 && sorted[k - 1] === name);
        }
        if (duplicate !== undefined) throw new JwtError('DuplicateMember', duplicate);
      }
      return { kind: 'an object', value: out };
    }

    ws();
    if (text[i] !== '{') {
      // Some other JSON value is "not an object"; anything else is "not JSON", with
      // serde_json's words for where its reading stopped.
      let isJson = true;
      try {
        JSON.parse(text);
      } catch {
        isJson = false;
      }
      if (isJson) throw new JwtError('NotAnObject', '');
      lenient = true;
      ignoreValue();
      ws();
      if (i < text.length) syntax('trailing characters');
      syntax('expected value'); // not reached while JSON.parse and this reading agree
    }
    const kinds = new Map();
    const top = object(kinds);
    ws();
    if (i < text.length) syntax('trailing characters');
    return { value: top.value, kinds, ints };
  }

  /** Where the first byte that is not valid UTF-8 is, as serde_json says it: "line 1 column 33". */
  function badUtf8At(bytes) {
    let k = 0;
    while (k < bytes.length) {
      const b = bytes[k];
      const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
      const ok = need >= 0 && k + need < bytes.length &&
        Array.from({ length: need }, (_, j) => bytes[k + 1 + j]).every((c) => (c & 0xc0) === 0x80) &&
        !(b === 0xe0 && bytes[k + 1] < 0xa0) && !(b === 0xed && bytes[k + 1] >= 0xa0) &&
        !(b === 0xf0 && bytes[k + 1] < 0x90) && !(b === 0xf4 && bytes[k + 1] >= 0x90);
      if (!ok) break;
      k += need + 1;
    }
    const before = bytes.subarray(0, k);
    const newline = before.lastIndexOf(0x0a);
    return `line ${before.filter((c) => c === 0x0a).length + 1} column ${k - newline}`;
  }

  /** A segment's bytes as a strict JSON object, or a JwtError worded as the library's. */
  function strictObject(bytes, segment) {
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      // A top level that is no object is only asked "is it JSON?" (serde_json's IgnoredAny
      // does not look inside strings for UTF-8): JSON with a bad byte in a string is still
      // JSON but not an object.
      const first = bytes.find((c) => ![0x20, 0x09, 0x0a, 0x0d].includes(c));
      if (first !== 0x7b) {
        // Read with U+FFFD for each bad byte: NotAnObject, or where the syntax fails.
        try {
          parseJson(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes));
        } catch (e) {
          if (e.code === 'NotAnObject') throw new JwtError('NotAnObject', `malformed token: ${segment} is JSON but not an object`);
          if (e.code === 'Json') throw new JwtError('Json', `malformed token: ${segment} is not JSON: ${echo(e.message)}`);
        }
      }
      throw new JwtError('Json', `malformed token: ${segment} is not JSON: invalid unicode code point at ${badUtf8At(bytes)}`);
    }
    try {
      return { text, ...parseJson(text) };
    } catch (e) {
      if (!(e instanceof JwtError)) throw e;
      if (e.code === 'DuplicateMember') {
        throw new JwtError('DuplicateMember', `malformed token: ${segment} has member ${debugString(echo(e.message))} more than once`);
      }
      if (e.code === 'NotAnObject') throw new JwtError('NotAnObject', `malformed token: ${segment} is JSON but not an object`);
      throw new JwtError('Json', `malformed token: ${segment} is not JSON: ${echo(e.message)}`);
    }
  }

  // ---- the key ------------------------------------------------------------------

  /**
   * The secret's bytes from what was typed: 'utf8' takes the text's bytes, 'base64url'
   * decodes it (canonical; trailing '=' tolerated; as `--key-file` and MINIJWT_SECRET are read).
   * Throws KeyEncoding or KeyTooShort, worded as the library (never echoing the key).
   */
  function keyBytes(secret, encoding) {
    let bytes;
    if (encoding === 'base64url') {
      try {
        // Hs256Key::from_base64url: trimmed, and trailing '=' padding tolerated (many tools write it).
        bytes = b64uDecode(trim(secret).replace(/=+$/, ''), true);
      } catch (e) {
        throw new JwtError('KeyEncoding', `key is not base64url text: ${e.message}`);
      }
    } else {
      bytes = new TextEncoder().encode(secret);
    }
    if (bytes.length < MIN_KEY_LEN) {
      throw new JwtError('KeyTooShort', `HS256 key is ${bytes.length} bytes; at least 32 are required (RFC 7518 section 3.2)`);
    }
    return bytes;
  }

  async function hmac(keyBytesValue, text) {
    const key = await crypto.subtle.importKey('raw', keyBytesValue, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
  }

  /** Compares every byte whatever the first difference (as the library does). */
  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let k = 0; k < a.length; k++) diff |= a[k] ^ b[k];
    return diff === 0;
  }

  // ---- claims and the clock (src/jwt/validation.rs) --------------------------------

  // As the CLI's: a year before 0 without the ISO's six-digit padding (-6060-01-02T00:00:01Z).
  const utc = (seconds) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    .replace(/^([+-])0*(\d{4,})/, (_, sign, year) => `${sign === '-' ? '-' : ''}${year}`);

  /**
   * A float as serde_json writes it (the ryu crate's shortest digits and layout):
   * 1e10 is 10000000000.0, -0 is -0.0, 1e300 is 1e300. `token explain` shows a time
   * claim that is a float so.
   */
  function floatText(v) {
    if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
    const [mantissa, e] = Math.abs(v).toExponential().split('e');
    const digits = mantissa.replace('.', '');
    const length = digits.length;
    const kk = Number(e) + 1; // 10^(kk-1) <= |v| < 10^kk
    const k = kk - length;
    let out;
    if (k >= 0 && kk <= 16) out = `${digits}${'0'.repeat(k)}.0`;
    else if (kk > 0 && kk <= 16) out = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
    else if (kk > -5 && kk <= 0) out = `0.${'0'.repeat(-kk)}${digits}`;
    else if (length === 1) out = `${digits}e${kk - 1}`;
    else out = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
    out = out.replace(/e(\d)/, 'e+$1'); // 1e+300, 1.5e-7
    return `${v < 0 ? '-' : ''}${out}`;
  }

  function duration(s) {
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86_400) {
      const m = Math.floor((s % 3600) / 60);
      return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ''}`;
    }
    return `${Math.floor(s / 86_400)} days`;
  }

  function relative(at, now) {
    if (at === now) return 'now';
    return at > now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`;
  }

  /** A NumericDate claim in whole seconds (a fraction rounded the strict way), or a JwtError. */
  function numericDate(payload, name) {
    const kind = payload.kinds.get(name);
    if (kind === undefined) return null;
    const v = payload.value[name];
    const outOfRange = () => new JwtError('InvalidClaim', `claim "${name}" is out of range for a date`);
    if (kind === 'int') {
      if (Math.abs(v) > MAX_NUMERIC_DATE) throw outOfRange();
      return v;
    }
    if (kind === 'float') {
      if (!Number.isFinite(v) || Math.abs(v) > MAX_NUMERIC_DATE) throw outOfRange();
      // exp rounds down, nbf and iat up: each towards refusing.
      return name === 'exp' ? Math.floor(v) : Math.ceil(v);
    }
    throw new JwtError('InvalidClaim', `claim "${name}" must be a number of seconds (NumericDate)`);
  }

  function againstClock(name, seconds, now, leeway) {
    if (name === 'exp' && seconds <= now - leeway) {
      return new JwtError('Expired', `token expired at ${seconds} (now ${now - seconds} s past it, leeway ${leeway} s)`);
    }
    if (name === 'nbf' && seconds > now + leeway) {
      return new JwtError('NotYetValid', `token not valid before ${seconds} (that is ${seconds - now} s from now, leeway ${leeway} s)`);
    }
    if (name === 'iat' && seconds > now + leeway) {
      return new JwtError('IssuedInFuture', `token issued in the future at ${seconds} (${seconds - now} s from now, leeway ${leeway} s)`);
    }
    return null;
  }

  /** Validation::check_claims with the default options (exp required, no iss/sub/aud expected). */
  function checkClaims(payload, now, leeway) {
    const times = ['exp', 'nbf', 'iat'].map((name) => [name, numericDate(payload, name)]);
    for (const name of ['iss', 'sub']) {
      const kind = payload.kinds.get(name);
      if (kind !== undefined && kind !== 'a string') throw new JwtError('InvalidClaim', `claim "${name}" must be a string`);
    }
    const aud = payload.kinds.get('aud');
    if (aud !== undefined) {
      const v = payload.value.aud;
      const ok = typeof v === 'string' || (Array.isArray(v) && v.every((a) => typeof a === 'string'));
      if (!ok) throw new JwtError('InvalidClaim', 'claim "aud" must be a string or an array of strings');
    }
    if (!payload.kinds.has('exp')) throw new JwtError('MissingClaim', 'required claim "exp" is missing');
    for (const [name, seconds] of times) {
      if (seconds !== null) {
        const e = againstClock(name, seconds, now, leeway);
        if (e) throw e;
      }
    }
    // RFC 7519 §4.1.3: a verifier that expects no audience refuses a token that names one.
    if (aud !== undefined) throw new JwtError('WrongAudience', 'audience does not match the expected one');
  }

  /** Validation::judge_times: each time claim on its own, as `token explain` prints it. */
  function judgeTimes(payload, now, leeway) {
    return ['exp', 'nbf', 'iat'].map((name) => {
      const kind = payload.kinds.get(name);
      const raw = kind === undefined ? null : kind === 'float' ? floatText(payload.value[name])
        : kind === 'int' ? String(payload.ints.get(name)) : JSON.stringify(payload.value[name]);
      let seconds = null;
      let error = null;
      try {
        seconds = numericDate(payload, name);
        if (seconds === null && name === 'exp') error = new JwtError('MissingClaim', 'required claim "exp" is missing');
        else if (seconds !== null) error = againstClock(name, seconds, now, leeway);
      } catch (e) {
        error = e;
      }
      let line;
      if (seconds === null) {
        if (!error) line = 'absent';
        else if (error.code === 'MissingClaim') line = 'absent: refused, exp is required';
        else line = `${raw}: refused, ${error.message}`;
      } else {
        const readAs = payload.kinds.get(name) === 'int' ? String(seconds) : `${raw} (read as ${seconds})`;
        const when = relative(seconds, now);
        const within = `accepted: within the ${leeway} s leeway`;
        let verdict;
        if (error) verdict = `REFUSED: ${error.message}`;
        else if (name === 'exp') verdict = seconds > now ? `expires ${when}` : `expired ${when}, ${within}`;
        else if (name === 'nbf') verdict = seconds <= now ? `valid since ${when}` : `valid ${when}, ${within}`;
        else verdict = seconds <= now ? `issued ${when}` : `issued ${when}, ${within}`;
        line = `${readAs}  ${utc(seconds)}  ${verdict}`;
      }
      return { name, seconds, ok: !error, code: error?.code ?? null, line };
    });
  }

  /** Validation::check_typ: absent or "JWT" by default, else exactly the one expected (as media types). */
  function checkTyp(found, expected) {
    const strip = (t) => (asciiLower(t.slice(0, 12)) === 'application/' ? t.slice(12) : t);
    const want = expected || 'JWT';
    if (found === undefined && !expected) return;
    if (found !== undefined && asciiLower(strip(found)) === asciiLower(strip(want))) return;
    if (found === undefined) throw new JwtError('WrongType', `token has no "typ", expected ${debugString(want)}`);
    throw new JwtError('WrongType', `token type is ${debugString(echo(found))}, expected ${debugString(want)} (--typ sets the type to expect)`);
  }

  /** header::check_received: alg exactly "HS256", no crit, typ and kid strings. */
  function checkHeader(header) {
    const { value, kinds } = header;
    const alg = kinds.get('alg');
    if (alg === undefined) throw new JwtError('MissingAlgorithm', 'header has no "alg"');
    if (alg !== 'a string') {
      throw new JwtError('UnsupportedAlgorithm', `unsupported algorithm (${alg === 'int' || alg === 'float' ? 'a number' : alg} instead of a string): only "HS256" is accepted`);
    }
    if (value.alg !== 'HS256') {
      throw new JwtError('UnsupportedAlgorithm', `unsupported algorithm ${debugString(echo(value.alg))}: only "HS256" is accepted`);
    }
    if (kinds.has('crit')) throw new JwtError('CriticalHeader', 'header has "crit": it requires extensions this verifier does not implement');
    for (const name of ['typ', 'kid']) {
      if (kinds.has(name) && kinds.get(name) !== 'a string') throw new JwtError('InvalidHeader', `header "${name}" is not a string`);
    }
  }

  function decodeSegment(text, segment) {
    try {
      return b64uDecode(text);
    } catch (e) {
      throw new JwtError('Base64', `malformed token: ${segment} segment is not base64url: ${e.message}`);
    }
  }

  /**
   * Verifies `token` as minijwt::decode does, and explains each step as `token explain`.
   * options: { secret, encoding: 'utf8' | 'base64url', typ, leeway, now }.
   * Resolves with a report; `verdict` is { ok, code, text } where text is the CLI's
   * "Verdict: ..." line without its prefix.
   */
  async function explain(token, options) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    const leeway = options.leeway ?? 0;
    const report = { now, leeway, segments: null, header: null, payload: null, signingInput: null,
      signature: null, times: null, key: null, verdict: null };

    // The key first: a key the library refuses cannot verify anything.
    let key = null;
    if (options.secret) {
      try {
        key = keyBytes(options.secret, options.encoding);
        report.key = { ok: true, length: key.length };
      } catch (e) {
        report.key = { ok: false, code: e.code, message: e.message };
      }
    }

    // Step 1 to 6: what `token explain` shows, each part on its own.
    const parts = token.split('.');
    if (parts.length === 3) {
      const [h, p, s] = parts;
      report.segments = { header: h, payload: p, signature: s };
      report.header = await explainSegment(h, 'header');
      report.payload = await explainSegment(p, 'payload');
      report.signingInput = `${h}.${p}`;
      try {
        const tokenSig = b64uDecode(s);
        report.signature = { tokenHex: hex(tokenSig), tokenLength: tokenSig.length, tokenB64: s };
        if (key) {
          const computed = await hmac(key, report.signingInput);
          Object.assign(report.signature, {
            computedHex: hex(computed), computedB64: b64uEncode(computed), match: sameBytes(computed, tokenSig),
          });
        }
      } catch (e) {
        report.signature = { error: `the signature segment is not base64url: ${e.message}` };
      }
      if (report.payload.json) report.times = judgeTimes(report.payload.json, now, leeway);
    } else {
      report.segmentCount = parts.length;
    }

    // The verdict: the library's steps in the library's order, first failure wins.
    try {
      if (report.key && !report.key.ok) throw new JwtError(report.key.code, report.key.message);
      await verify(token, key, { typ: options.typ, leeway, now });
      report.verdict = key
        ? { ok: true, code: null, text: 'VALID. Every check passed.' }
        : { ok: true, code: null, text: 'every check but the signature passed; without the key the token is NOT verified.' };
    } catch (e) {
      if (!(e instanceof JwtError)) throw e;
      report.verdict = { ok: false, code: e.code, text: `REJECTED: ${e.message}` };
    }
    return report;
  }

  async function explainSegment(text, segment) {
    const out = { text, bytes: null, json: null, error: null };
    try {
      const bytes = b64uDecode(text);
      out.bytes = new TextDecoder('utf-8').decode(bytes);
      out.byteLength = bytes.length;
      out.json = strictObject(bytes, segment);
    } catch (e) {
      out.error = e.message.startsWith('malformed token: ') ? e.message.slice('malformed token: '.length) : `not base64url: ${e.message}`;
    }
    return out;
  }

  /** token::check_up_to_payload and check_payload, in order. */
  async function verify(token, key, { typ, leeway, now }) {
    if (new TextEncoder().encode(token).length > MAX_TOKEN_LEN) {
      throw new JwtError('TooLong', `token is ${new TextEncoder().encode(token).length} bytes, over the limit of ${MAX_TOKEN_LEN}; not decoded`);
    }
    const parts = token.split('.');
    if (parts.length !== 3) {
      const n = parts.length;
      throw new JwtError('SegmentCount', `malformed token: ${n} segment${n === 1 ? '' : 's'} found, a JWS has exactly 3 (header.payload.signature)`);
    }
    const [h, p, s] = parts;
    if (!h) throw new JwtError('EmptySegment', 'malformed token: the header segment is empty');
    if (!p) throw new JwtError('EmptySegment', 'malformed token: the payload segment is empty');
    if (h === DEFAULT_HEADER_B64) {
      checkTyp('JWT', typ);
    } else {
      const header = strictObject(decodeSegment(h, 'header'), 'header');
      checkHeader(header);
      checkTyp(header.value.typ, typ);
    }
    if (!s) throw new JwtError('EmptySegment', 'malformed token: the signature segment is empty');
    const signature = decodeSegment(s, 'signature');
    if (key) {
      if (signature.length !== 32) {
        throw new JwtError('SignatureLength', `signature is ${signature.length} bytes; an HS256 signature is exactly 32`);
      }
      if (!sameBytes(await hmac(key, `${h}.${p}`), signature)) {
        throw new JwtError('InvalidSignature', 'signature does not match (wrong key or altered token)');
      }
    }
    const payload = strictObject(decodeSegment(p, 'payload'), 'payload');
    checkClaims(payload, now, leeway);
  }

  /** Signs `header.payload` (objects or exact JSON text) with `secretBytes`, as the attack gallery's attacker would. */
  async function sign(header, payload, secretBytes) {
    const enc = (part) => b64uEncode(new TextEncoder().encode(typeof part === 'string' ? part : JSON.stringify(part)));
    const input = `${enc(header)}.${enc(payload)}`;
    return `${input}.${b64uEncode(await hmac(secretBytes, input))}`;
  }

  /** `input` (header.payload as sent) signed with `secretBytes`: the whole token. */
  async function signInput(input, secretBytes) {
    return `${input}.${b64uEncode(await hmac(secretBytes, input))}`;
  }

  return { explain, sign, signInput, b64uEncode, utc, trim, visible };
})();
