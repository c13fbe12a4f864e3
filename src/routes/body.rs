//! Reads a request body within the route's limit, on the wire and once decoded.
//!
//! A body sent with `Content-Encoding` gzip, deflate, br or zstd is first read as sent (at most
//! the limit), then inflated through a fixed buffer that stops at the limit: a few kilobytes that
//! would inflate to gigabytes never grow a buffer past the limit. Other encodings, and stacked
//! ones, are refused with 415 naming what is accepted (RFC 7694).

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use std::io::Write;

/// The content codings a request body may use, as the `Accept-Encoding` of a 415 lists them.
pub const ACCEPTED_ENCODINGS: &str = "gzip, deflate, br, zstd, identity";

/// The largest zstd window a body may ask for (2^23 = 8 MiB; zstd's own levels use at most
/// 2^21 for bodies under a megabyte and 2^23 for the largest push).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

/// The body's coding from its `Content-Encoding`, or the 415 that refuses it.
fn coding(req: &HttpRequest) -> Result<Coding, ApiError> {
    let mut codings = Vec::new();
    for value in req.headers().get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().map_err(|_| unsupported("a Content-Encoding that is not text"))?;
        codings.extend(text.split(',').map(|name| name.trim().to_ascii_lowercase()).filter(|name| !name.is_empty()));
    }
    codings.retain(|name| name != "identity");
    match codings.as_slice() {
        [] => Ok(Coding::Identity),
        [one] => match one.as_str() {
            "gzip" | "x-gzip" => Ok(Coding::Gzip),
            "deflate" => Ok(Coding::Deflate),
            "br" => Ok(Coding::Brotli),
            "zstd" => Ok(Coding::Zstd),
            other => Err(unsupported(&format!("Content-Encoding {other}"))),
        },
        _ => Err(unsupported("more than one Content-Encoding")),
    }
}

fn unsupported(what: &str) -> ApiError {
    ApiError::UnsupportedEncoding {
        detail: format!("{what} is not accepted; send one of {ACCEPTED_ENCODINGS}"),
        accepted: ACCEPTED_ENCODINGS,
    }
}

/// Reads the body, decoded, refusing it (413) as soon as it passes `limit` bytes on the wire or
/// once decoded. Each chunk is inflated as it arrives, so neither the encoded body nor more than
/// `limit` decoded bytes are ever held.
pub async fn read(req: &HttpRequest, payload: &mut Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut inflater = Inflater::new(coding(req)?, limit)?;
    let mut payload = payload.take();
    let mut received = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| unreadable(&error))?;
        received += chunk.len();
        if received > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        inflater.write(&chunk)?;
    }
    inflater.finish()
}

/// Where decoded bytes go: pieces of [`PIECE`] bytes, so that a body refused at the limit never
/// held more than the limit (a growing buffer would hold the old and the new copy at once); the
/// write that would pass the limit is refused.
struct Sink {
    pieces: Vec<Vec<u8>>,
    len: usize,
    limit: usize,
    over: bool,
}

/// The size of one piece of a decoded body: below the allocator's threshold for mapping memory of
/// its own, so pieces freed by one request are reused by the next.
const PIECE: usize = 64 * 1024;

impl Sink {
    fn new(limit: usize) -> Self {
        Self { pieces: Vec::new(), len: 0, limit, over: false }
    }

    /// The body in one buffer.
    fn take(&mut self) -> web::BytesMut {
        let mut body = web::BytesMut::with_capacity(self.len);
        for piece in std::mem::take(&mut self.pieces) {
            body.extend_from_slice(&piece);
        }
        body
    }
}

impl Write for Sink {
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<usize> {
        if self.len + bytes.len() > self.limit {
            self.over = true;
            return Err(std::io::Error::other("the decoded body passes the limit"));
        }
        let written = bytes.len();
        while !bytes.is_empty() {
            let piece = match self.pieces.last_mut() {
                Some(piece) if piece.len() < PIECE => piece,
                _ => {
                    self.pieces.push(Vec::with_capacity(PIECE));
                    self.pieces.last_mut().ok_or_else(|| std::io::Error::other("no piece"))?
                }
            };
            let room = (PIECE - piece.len()).min(bytes.len());
            piece.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
        }
        self.len += written;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A decoder fed chunk by chunk, writing into a [`Sink`].
enum Inflater {
    Identity(Sink),
    Gzip(flate2::write::MultiGzDecoder<Sink>),
    Deflate(flate2::write::ZlibDecoder<Sink>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Sink>>),
    Zstd(zstd::stream::write::Decoder<'static, Sink>),
}

impl Inflater {
    fn new(coding: Coding, limit: usize) -> Result<Self, ApiError> {
        let sink = Sink::new(limit);
        Ok(match coding {
            Coding::Identity => Self::Identity(sink),
            Coding::Gzip => Self::Gzip(flate2::write::MultiGzDecoder::new(sink)),
            Coding::Deflate => Self::Deflate(flate2::write::ZlibDecoder::new(sink)),
            Coding::Brotli => Self::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(sink, 16 * 1024))),
            Coding::Zstd => {
                let mut decoder = zstd::stream::write::Decoder::new(sink).map_err(|error| unreadable(&error))?;
                decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|error| unreadable(&error))?;
                Self::Zstd(decoder)
            }
        })
    }

    fn sink(&self) -> &Sink {
        match self {
            Self::Identity(sink) => sink,
            Self::Gzip(decoder) => decoder.get_ref(),
            Self::Deflate(decoder) => decoder.get_ref(),
            Self::Brotli(decoder) => decoder.get_ref(),
            Self::Zstd(decoder) => decoder.get_ref(),
        }
    }

    /// Decodes one chunk as sent.
    fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        let written = match self {
            Self::Identity(sink) => sink.write_all(chunk),
            Self::Gzip(decoder) => decoder.write_all(chunk),
            Self::Deflate(decoder) => decoder.write_all(chunk),
            Self::Brotli(decoder) => decoder.write_all(chunk),
            Self::Zstd(decoder) => decoder.write_all(chunk),
        };
        written.map_err(|error| self.refusal(&error))
    }

    /// The decoded body, once the last chunk is in.
    fn finish(mut self) -> Result<web::BytesMut, ApiError> {
        let finished = match &mut self {
            Self::Identity(_) => Ok(()),
            Self::Gzip(decoder) => decoder.try_finish(),
            Self::Deflate(decoder) => decoder.try_finish(),
            Self::Brotli(decoder) => decoder.close(),
            Self::Zstd(decoder) => decoder.flush(),
        };
        finished.map_err(|error| self.refusal(&error))?;
        Ok(match self {
            Self::Identity(mut sink) => sink.take(),
            Self::Gzip(mut decoder) => decoder.get_mut().take(),
            Self::Deflate(mut decoder) => decoder.get_mut().take(),
            Self::Brotli(mut decoder) => decoder.get_mut().take(),
            Self::Zstd(mut decoder) => decoder.get_mut().take(),
        })
    }

    /// 413 if the sink refused a write for the limit, else 400 for a body that does not decode.
    fn refusal(&self, error: &std::io::Error) -> ApiError {
        let sink = self.sink();
        if sink.over { ApiError::PayloadTooLarge { limit: sink.limit } } else { unreadable(error) }
    }
}

fn unreadable(error: &dyn std::fmt::Display) -> ApiError {
    ApiError::BadRequest { code: "unreadable_body", detail: format!("the request body could not be read: {error}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).ok();
        encoder.finish().unwrap_or_default()
    }

    /// Decodes `encoded`, fed in chunks of `step` bytes.
    fn decode(coding: Coding, encoded: &[u8], limit: usize, step: usize) -> Result<Vec<u8>, ApiError> {
        let mut inflater = Inflater::new(coding, limit)?;
        for chunk in encoded.chunks(step) {
            inflater.write(chunk)?;
        }
        inflater.finish().map(|body| body.to_vec())
    }

    #[test]
    fn a_body_within_the_limit_decodes_whole_in_every_coding_whatever_its_chunks() {
        let data = br#"{"username":"anna","password":"secret"}"#.repeat(1000);
        let zstd = zstd::encode_all(&data[..], 3).unwrap_or_default();
        let mut brotli = Vec::new();
        brotli::BrotliCompress(&mut &data[..], &mut brotli, &Default::default()).ok();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&data).ok();
        let zlib = zlib.finish().unwrap_or_default();
        let encoded = [
            (Coding::Identity, data.clone()),
            (Coding::Gzip, gzip(&data)),
            (Coding::Deflate, zlib),
            (Coding::Brotli, brotli),
            (Coding::Zstd, zstd),
        ];
        for (coding, encoded) in encoded {
            for step in [1, 7, 4096, encoded.len()] {
                let decoded = decode(coding, &encoded, data.len(), step);
                assert_eq!(decoded.ok().as_deref(), Some(&data[..]), "{coding:?} in chunks of {step}");
            }
        }
    }

    #[test]
    fn one_byte_past_the_limit_once_decoded_is_refused() {
        let data = vec![b' '; 4096];
        assert!(decode(Coding::Gzip, &gzip(&data), 4096, 100).is_ok());
        let refused = decode(Coding::Gzip, &gzip(&data), 4095, 100);
        assert!(matches!(refused, Err(ApiError::PayloadTooLarge { limit: 4095 })), "{refused:?}");
    }

    #[test]
    fn a_body_that_does_not_decode_is_unreadable_not_too_large() {
        let refused = decode(Coding::Gzip, b"{\"not\": \"gzip\"}", 1024, 4);
        assert!(matches!(refused, Err(ApiError::BadRequest { code: "unreadable_body", .. })), "{refused:?}");
    }
}
