//! What the server makes of an uploaded photo: its type read from its first bytes, its size read
//! from its header and checked before anything is decoded, then decoded, turned upright, scaled
//! down to the stored size and encoded again as a JPEG that carries nothing but pixels (no EXIF,
//! GPS, maker notes, XMP, ICC or embedded thumbnail), with a thumbnail beside it.

use ::image::codecs::jpeg::JpegEncoder;
use ::image::imageops::FilterType;
use ::image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use actix_web::http::StatusCode;
use std::io::Cursor;

/// The long edge of thumbnails.
pub const THUMBNAIL_EDGE: u32 = 320;
/// The quality photos are stored with.
const PHOTO_QUALITY: u8 = 85;
/// The quality of thumbnails.
const THUMBNAIL_QUALITY: u8 = 75;
/// The most memory one decode may take, whatever its header says.
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// The types a photo may be uploaded as.
pub const ACCEPTED_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// Why a photo was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into() }
    }
}

/// The type of an image, from its first bytes (never from what the client says it is).
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, Refusal> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageFormat::Png);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(ImageFormat::WebP);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        const HEIF: [&[u8]; 9] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"];
        if HEIF.contains(&&bytes[8..12]) {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "heic_unsupported",
                "HEIC/HEIF photos cannot be decoded here: send it as JPEG (the field app converts photos \
                 itself; on an iPhone, Settings → Camera → Formats → Most Compatible)",
            ));
        }
    }
    Err(Refusal::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
        "not a JPEG, PNG or WebP image: a photo is accepted in one of these types",
    ))
}

/// A photo as the server keeps it.
#[derive(Debug)]
pub struct Processed {
    /// The stored photo: a JPEG with no metadata.
    pub photo: Vec<u8>,
    /// Its thumbnail, also a JPEG with no metadata.
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Limits a photo is read with.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    /// Most pixels its header may declare.
    pub max_pixels: u64,
    /// The long edge it is stored with at most.
    pub max_edge: u32,
}

fn undecodable(error: impl std::fmt::Display) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "undecodable", format!("the image cannot be decoded: {error}"))
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    reader
}

/// Reads, checks, decodes and re-encodes an uploaded photo.
pub fn process(bytes: &[u8], limits: PhotoLimits) -> Result<Processed, Refusal> {
    let format = sniff(bytes)?;
    // The header alone first: a decompression bomb declares its size there, and is refused
    // before a single pixel is decoded.
    let (width, height) = reader(bytes, format).into_dimensions().map_err(undecodable)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width == 0 || height == 0 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_pixels",
            format!("the image declares {width} × {height} pixels; at most {} pixels are accepted", limits.max_pixels),
        ));
    }
    let mut decoder = reader(bytes, format).into_decoder().map_err(undecodable)?;
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let image = if image.width().max(image.height()) > limits.max_edge {
        image.resize(limits.max_edge, limits.max_edge, FilterType::Triangle)
    } else {
        image
    };
    let thumbnail = image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE);
    let (width, height) = (image.width(), image.height());
    Ok(Processed {
        photo: jpeg(&flatten(image), PHOTO_QUALITY)?,
        thumbnail: jpeg(&flatten(thumbnail), THUMBNAIL_QUALITY)?,
        width,
        height,
    })
}

/// The image as RGB, transparent parts on white (a JPEG has no transparency).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(source[3]);
        for channel in 0..3 {
            let blended = (u16::from(source[channel]) * alpha + 255 * (255 - alpha)) / 255;
            target[channel] = u8::try_from(blended).unwrap_or(u8::MAX);
        }
    }
    rgb
}

fn jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(image).map_err(undecodable)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PhotoLimits {
        PhotoLimits { max_pixels: 50_000_000, max_edge: 2000 }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgba8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_large_photo_is_scaled_to_the_long_edge_and_stored_as_jpeg() {
        let processed = process(&png(3000, 1500), limits()).unwrap();
        assert_eq!((processed.width, processed.height), (2000, 1000));
        assert_eq!(sniff(&processed.photo), Ok(ImageFormat::Jpeg));
        let thumbnail = image::load_from_memory(&processed.thumbnail).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (THUMBNAIL_EDGE, THUMBNAIL_EDGE / 2));
    }

    #[test]
    fn a_header_declaring_more_pixels_than_allowed_is_refused_before_decoding() {
        let refusal = process(&png(200, 200), PhotoLimits { max_pixels: 39_999, max_edge: 2000 }).unwrap_err();
        assert_eq!(refusal.code, "too_many_pixels");
    }

    #[test]
    fn heic_is_named_as_such() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(sniff(&heic).unwrap_err().code, "heic_unsupported");
        assert_eq!(sniff(b"GIF89a........").unwrap_err().code, "unsupported_type");
    }

    #[test]
    fn transparency_is_laid_on_white() {
        let processed = process(&png(10, 10), limits()).unwrap();
        let decoded = image::load_from_memory(&processed.photo).unwrap().into_rgb8();
        assert!(decoded.pixels().all(|p| p.0.iter().all(|c| *c > 245)), "transparent pixels became white");
    }
}
