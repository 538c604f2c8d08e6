// The one error HPACK decoding throws. Any malformed header block, Huffman
// string or integer ends up here, so the HTTP/2 layer can catch exactly this
// class and close the connection with COMPRESSION_ERROR (RFC 9113 §4.3): once a
// block fails to decode, the peer's and our dynamic tables may disagree, and
// nothing later on that connection can be trusted.
//
// Its own file because both the Huffman decoder and the header-block decoder
// throw it, and neither should import the other just for the class.

export class HpackError extends Error {
  override readonly name = 'HpackError';
}
