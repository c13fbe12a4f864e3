//! What the server does with an uploaded photo: `lagesbild::photos::image::process` (read the
//! header, decode, turn upright, scale to the stored size, make the 320 px thumbnail, encode both
//! as JPEG without metadata) for a photo as the field app sends it (2000 × 1500) and for a
//! camera original (4000 × 3000), against decoding the same bytes alone
//! (`image::load_from_memory`) in the same run, measured by criterion.
//!
//! ```sh
//! cargo bench --bench photos
//! PHOTOS_BENCH_SECONDS=10 cargo bench --bench photos
//! cargo bench --bench photos -- 4000x3000           # one size (criterion's filter)
//! ```
//!
//! The inputs are camera-like JPEGs (`common/phone_photo.rs`: flat areas, edges, texture and
//! sensor noise, quality 88), so the decoder and encoders see realistic entropy. Beside
//! criterion's figures the bench times every run after the warm-up itself (p50, p95) and counts
//! the heap one call needs at its peak with a counting allocator (one call outside the timed
//! runs), which is what each upload being processed at once adds to the server's memory.

#[path = "common/phone_photo.rs"]
mod phone_photo;
#[path = "common/timed.rs"]
mod timed;

use criterion::{Criterion, SamplingMode};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use lagesbild::photos::image::{PhotoLimits, THUMBNAIL_EDGE, process};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WARM_UP: Duration = Duration::from_secs(1);
/// The server's defaults (`LAGESBILD_PHOTO_MAX_PIXELS`, `LAGESBILD_PHOTO_MAX_EDGE`).
const LIMITS: PhotoLimits = PhotoLimits { max_pixels: 50_000_000, max_edge: 2000 };

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn grew(by: usize) {
        let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `System` unchanged; the counters only observe it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most heap `work` holds at once beyond what was live before it, in bytes.
fn peak_heap<T>(work: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = work();
    (PEAK.load(Ordering::Relaxed) - before, result)
}

fn main() {
    let seconds: u64 = std::env::var("PHOTOS_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let inputs = [(2000, 1500), (4000, 3000)].map(|(width, height)| {
        let jpeg = phone_photo::phone_jpeg(width, height, 3);
        (format!("{width}x{height}"), jpeg)
    });
    let mut criterion = Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(Duration::from_secs(seconds))
        .sample_size(10)
        .configure_from_args();
    let mut table = Vec::new();
    for (size, jpeg) in &inputs {
        let decoded = image::load_from_memory(jpeg).expect("the photo decodes");
        let edge = LIMITS.max_edge;
        let scaled = if decoded.width().max(decoded.height()) > edge {
            Some(decoded.resize(edge, edge, FilterType::Triangle))
        } else {
            None
        };
        let stored = scaled.as_ref().unwrap_or(&decoded);
        let stored_rgb = stored.to_rgb8();
        let processed = process(jpeg, LIMITS).expect("the photo is processed");
        let mut group = criterion.benchmark_group(format!("photo {size}"));
        // Each run takes 10 ms or more: one run per sample.
        group.sampling_mode(SamplingMode::Flat);
        let mut steps: Vec<(String, Vec<f64>, usize)> = Vec::new();
        let mut step = |name: &str, mut work: Box<dyn FnMut() -> usize + '_>| {
            let (heap, _) = peak_heap(&mut work);
            steps.push((name.to_owned(), timed::measure(&mut group, name, WARM_UP, work), heap));
        };
        step(
            "baseline: decode alone (image::load_from_memory)",
            Box::new(|| image::load_from_memory(jpeg).map(|image| image.as_bytes().len()).unwrap_or(0)),
        );
        if scaled.is_some() {
            step(
                "part: scale to the stored size (resize, Triangle)",
                Box::new(|| decoded.resize(edge, edge, FilterType::Triangle).as_bytes().len()),
            );
        }
        step(
            "part: thumbnail of the stored size (DynamicImage::thumbnail, 320 px)",
            Box::new(|| stored.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).as_bytes().len()),
        );
        step(
            "part: JPEG encode of the stored size, quality 85",
            Box::new(|| {
                let mut out = Vec::new();
                JpegEncoder::new_with_quality(&mut out, 85).encode_image(&stored_rgb).map_or(0, |()| out.len())
            }),
        );
        step(
            "process (decode, scale, thumbnail, two JPEG encodes)",
            Box::new(|| process(jpeg, LIMITS).map(|processed| processed.photo.len()).unwrap_or(0)),
        );
        group.finish();
        let output = format!(
            "{} × {} photo {} KB, thumbnail {} KB",
            processed.width,
            processed.height,
            processed.photo.len() / 1000,
            processed.thumbnail.len() / 1000
        );
        table.push((size.clone(), jpeg.len() / 1000, steps, output));
    }

    println!(
        "\nevery timed run after the warm-up, one thread; peak heap of one call beyond its input (counting allocator)\n"
    );
    println!("| input | input KB | what | runs | p50 ms | p95 ms | relative to decode (p50) | peak heap MiB |");
    println!("|---|---|---|---|---|---|---|---|");
    for (size, input_kb, steps, output) in &table {
        let decode = steps.first().and_then(|(_, times, _)| summary(times)).map_or(f64::NAN, |s| s.p50);
        for (name, times, heap) in steps {
            let Some(figures) = summary(times) else {
                continue; // criterion's filter skipped it
            };
            let name =
                if name.starts_with("process") { format!("`photos::image::process`: {output}") } else { name.clone() };
            println!(
                "| {size} | {input_kb} | {name} | {} | {:.1} | {:.1} | {:.2}× | {:.1} |",
                figures.runs,
                figures.p50,
                figures.p95,
                figures.p50 / decode,
                *heap as f64 / 1_048_576.0
            );
        }
    }
}

struct Summary {
    runs: usize,
    p50: f64,
    p95: f64,
}

fn summary(times: &[f64]) -> Option<Summary> {
    if times.is_empty() {
        return None;
    }
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    Some(Summary { runs: sorted.len(), p50: at(0.5), p95: at(0.95) })
}
