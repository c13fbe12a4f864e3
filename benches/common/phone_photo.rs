//! Photos shaped like a phone camera's, for the photo benches: a street scene's worth of flat
//! areas, edges and texture under sensor noise, encoded as a JPEG of 300–800 KB at 2000 × 1500
//! (what the field app sends), made from a seed so that every run has the same bytes.
#![allow(dead_code, reason = "each bench that includes this module uses a part of it")]

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// The quality phone cameras (and the field app, 0.85) write JPEGs with, about.
const CAMERA_QUALITY: u8 = 88;

/// A reproducible pseudo-random sequence (xorshift64*).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..modulo`.
    fn below(&mut self, modulo: u32) -> u32 {
        ((self.next() >> 32) % u64::from(modulo)) as u32
    }
}

/// A camera-like JPEG of `width` × `height` pixels; `seed` picks the scene and how noisy it is.
pub fn phone_jpeg(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    // Sensor noise from ±2 to ±7 levels: the part that decides the size of the JPEG.
    let grain = 2 + noise.below(6) as i32;
    let horizon = height * (35 + noise.below(20)) / 100;
    // Façades, windows, signs: flat-coloured boxes with a striped texture of their own.
    let boxes: Vec<(u32, u32, u32, u32, [u8; 3], u32)> = (0..40)
        .map(|_| {
            let (w, h) = (width / 20 + noise.below(width / 4), height / 20 + noise.below(height / 3));
            let (x, y) = (noise.below(width), horizon / 2 + noise.below(height - horizon / 2));
            let colour = [noise.below(256) as u8, noise.below(256) as u8, noise.below(256) as u8];
            (x, y, w, h, colour, 2 + noise.below(14))
        })
        .collect();
    let mut picture = RgbImage::new(width, height);
    for (x, y, pixel) in picture.enumerate_pixels_mut() {
        let mut rgb = if y < horizon {
            // Sky: a gradient.
            let t = y * 255 / horizon.max(1);
            [(90 + t / 3) as i32, (140 + t / 4) as i32, (220 - t / 5) as i32]
        } else {
            // Asphalt and grass with a coarse texture.
            let patch = ((x / 37) ^ (y / 23)) % 5;
            [(70 + patch * 9) as i32, (80 + patch * 11) as i32, (65 + patch * 6) as i32]
        };
        for &(bx, by, bw, bh, colour, stripe) in boxes.iter().rev() {
            if x >= bx && x < bx + bw && y >= by && y < by + bh {
                let shade = if (x + y / 2) / stripe % 2 == 0 { 0 } else { 18 };
                rgb = colour.map(|c| i32::from(c) - shade);
                break;
            }
        }
        let n = noise.next();
        for (channel, value) in rgb.iter_mut().enumerate() {
            let sample = ((n >> (channel * 16)) & 0xFFFF) as i32;
            *value += sample % (2 * grain + 1) - grain;
        }
        *pixel = Rgb(rgb.map(|v| v.clamp(0, 255) as u8));
    }
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, CAMERA_QUALITY).encode_image(&picture).expect("a JPEG in memory");
    jpeg
}

/// The same photo with a comment segment after its start marker naming `n`: other bytes, another
/// SHA-256, the same picture (the server drops the comment with the rest of the metadata).
pub fn variant(jpeg: &[u8], n: u64) -> Vec<u8> {
    let text = format!("bench photo {n}");
    let length = u16::try_from(text.len() + 2).expect("a short comment");
    [&jpeg[..2], &[0xFF, 0xFE], &length.to_be_bytes(), text.as_bytes(), &jpeg[2..]].concat()
}
