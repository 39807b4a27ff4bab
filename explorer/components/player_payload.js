// The convolution player's wire format, read: explorer/player.py's bytes (its module docstring
// writes the format down; decode_payload there is this function's Python twin).

const MAGIC = "CNP1";

/** Read explorer/player.py's bytes: {header, padded, kernel, sums}. */
function parsePayload(data) {
  if (!data) return null;
  const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (u8.length < 8 || String.fromCharCode(...u8.subarray(0, 4)) !== MAGIC) {
    throw new Error("conv_player: the data is not a player payload");
  }
  // The Uint8Array may be a view at any offset into a protobuf buffer, so read the doubles
  // through a DataView (little-endian, unaligned reads allowed) rather than a Float64Array.
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + headerLength)));
  let offset = 8 + headerLength;
  const read = (count) => {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, true);
    offset += 8 * count;
    return out;
  };
  const [hp, wp] = header.padded;
  const [kh, kw] = header.kernel;
  const [oh, ow] = header.out;
  return { header, padded: read(hp * wp), kernel: read(kh * kw), sums: read(oh * ow) };
}
