//! Photos: attached offline to an observation through the sync protocol (the `attachments` table,
//! app schema version 3), their bytes uploaded after it in chunks that resume, stored once per
//! content hash, re-encoded without metadata (read back with exiftool where it is installed), and
//! served only to coordinators, admins and the reporter, every view audited.

use crate::helpers::*;
use crate::sync::{Phone, observation};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::process::Command;

/// A JPEG as a phone's camera writes it: EXIF with the maker, the model and a GPS position, an
/// XMP packet with a creator, and a comment, around a picture of `width` × `height`.
pub fn camera_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut picture = RgbImage::new(width, height);
    for (x, y, pixel) in picture.enumerate_pixels_mut() {
        *pixel = Rgb([(x % 256) as u8, (y % 256) as u8, 128]);
    }
    let mut plain = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(picture).write_to(&mut plain, ImageFormat::Jpeg).unwrap();
    let plain = plain.into_inner();
    let mut jpeg = plain[..2].to_vec();
    jpeg.extend(segment(0xE1, &exif()));
    jpeg.extend(segment(0xE1, &[&b"http://ns.adobe.com/xap/1.0/\0"[..], XMP.as_bytes()].concat()));
    jpeg.extend(segment(0xFE, b"Anna Andersson, Granangsringen 12"));
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

const XMP: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Anna Andersson</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"#;

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).unwrap();
    [&[0xFF, marker][..], &length.to_be_bytes(), payload].concat()
}

/// A little-endian TIFF block: IFD0 with Make, Model and a GPS pointer; a GPS IFD with latitude
/// and longitude (59° 14' N, 18° 13' E).
fn exif() -> Vec<u8> {
    fn entry(tag: u16, kind: u16, count: u32, value: u32) -> Vec<u8> {
        [tag.to_le_bytes().as_slice(), &kind.to_le_bytes(), &count.to_le_bytes(), &value.to_le_bytes()].concat()
    }
    // Layout: header 8, IFD0 at 8 (2 + 3×12 + 4 = 42) → 50; strings at 50 ("TestPhone\0" 10,
    // "Model X\0" 8) → 68; GPS IFD at 68 (2 + 4×12 + 4 = 54) → 122; rationals at 122 (2 × 24).
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend(entry(0x010F, 2, 10, 50));
    tiff.extend(entry(0x0110, 2, 8, 60));
    tiff.extend(entry(0x8825, 4, 1, 68));
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(b"TestPhone\0Model X\0");
    tiff.extend(4u16.to_le_bytes());
    tiff.extend(entry(0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")));
    tiff.extend(entry(0x0002, 5, 3, 122));
    tiff.extend(entry(0x0003, 2, 2, u32::from_le_bytes(*b"E\0\0\0")));
    tiff.extend(entry(0x0004, 5, 3, 146));
    tiff.extend(0u32.to_le_bytes());
    for (degrees, minutes) in [(59u32, 14u32), (18, 13)] {
        for (numerator, denominator) in [(degrees, 1u32), (minutes, 1), (0, 1)] {
            tiff.extend(numerator.to_le_bytes());
            tiff.extend(denominator.to_le_bytes());
        }
    }
    [&b"Exif\0\0"[..], &tiff].concat()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn attachment(id: &str, observation_id: &str, bytes: &[u8]) -> Value {
    json!({ "id": id, "observation_id": observation_id, "sha256": sha256(bytes), "content_type": "image/jpeg",
            "byte_size": bytes.len(), "width": 1200, "height": 900, "created_at": chrono::Utc::now().timestamp_millis() })
}

pub async fn put_chunk(app: &TestApp, token: &str, hash: &str, offset: usize, chunk: &[u8]) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/uploads/{hash}")))
        .bearer_auth(token)
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/octet-stream")
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

/// Uploads `bytes` in chunks of `chunk` bytes; returns the last answer.
pub async fn upload(app: &TestApp, token: &str, bytes: &[u8], chunk: usize) -> reqwest::Response {
    let hash = sha256(bytes);
    let mut offset = 0;
    loop {
        let end = (offset + chunk).min(bytes.len());
        let response = put_chunk(app, token, &hash, offset, &bytes[offset..end]).await;
        if end == bytes.len() || !response.status().is_success() {
            return response;
        }
        offset = end;
    }
}

fn result_of<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()
}

fn phone<'a>(app: &'a TestApp, token: &str) -> Phone<'a> {
    Phone { schema_version: 3, ..Phone::new(app, token) }
}

/// What an independent reader finds in an image: exiftool's tags, when it is installed (CI has it
/// and says so); otherwise `None`, and the JPEG's own segments are checked instead.
fn exiftool(bytes: &[u8]) -> Option<Value> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    match Command::new("exiftool").args(["-j", "-a", "-G1"]).arg(file.path()).output() {
        Ok(output) if output.status.success() => {
            let tags: Value = serde_json::from_slice(&output.stdout).unwrap();
            Some(tags[0].clone())
        }
        _ => {
            assert!(std::env::var_os("LAGESBILD_TEST_NEEDS_TOOLS").is_none(), "the photo tests need exiftool");
            eprintln!("exiftool is not installed: the JPEG segments are checked instead");
            None
        }
    }
}

/// The markers of a JPEG's segments before its image data.
fn segments(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "a JPEG");
    let (mut at, mut markers) = (2, Vec::new());
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    markers
}

fn assert_no_metadata(jpeg: &[u8]) {
    let markers = segments(jpeg);
    assert!(markers.iter().all(|m| !(0xE1..=0xEF).contains(m) && *m != 0xFE), "no APP1–APP15 or comment: {markers:x?}");
    if let Some(tags) = exiftool(jpeg) {
        let groups: Vec<&str> = tags.as_object().unwrap().keys().map(String::as_str).collect();
        for forbidden in ["GPS", "IFD0", "ExifIFD", "XMP", "MakerNotes", "IFD1", "ICC", "Comment", "Make", "creator"] {
            assert!(!groups.iter().any(|g| g.contains(forbidden)), "{forbidden} in {groups:?}");
        }
    }
}

#[tokio::test]
async fn a_photo_attached_offline_is_uploaded_in_resumable_chunks_stored_once_without_metadata_and_shown_only_to_those_who_may_see_it()
 {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let other = app.tenant("nacka").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let photo = camera_jpeg(1200, 900);
    // The fixture carries what must go: an independent reader finds it in the original.
    if let Some(tags) = exiftool(&photo) {
        assert_eq!(tags["GPS:GPSLatitudeRef"], "North", "{tags}");
        assert_eq!(tags["IFD0:Make"], "TestPhone");
        assert_eq!(tags["XMP-dc:Creator"], "Anna Andersson");
        assert!(tags["File:Comment"].as_str().unwrap().contains("Anna"));
    }
    let (observation_id, attachment_id) =
        ("018f0000-0000-7000-8000-00000000a001", "018f0000-0000-7000-8000-00000000b001");
    // The observation and its attachment in one push: both stored, the bytes not yet there.
    let pushed = field
        .push(json!({
            "observations": { "created": [observation(observation_id, "Trasig lykta")], "updated": [], "deleted": [] },
            "attachments": { "created": [attachment(attachment_id, observation_id, &photo)], "updated": [], "deleted": [] },
        }))
        .await;
    assert_eq!(result_of(&pushed, attachment_id)["status"], "applied", "{pushed}");
    let hash = sha256(&photo);
    let status: Value =
        app.get(&format!("/api/v1/uploads/{hash}"), &tenant.field.tokens.access).await.json().await.unwrap();
    assert_eq!((status["received"].clone(), status["complete"].clone()), (json!(0), json!(false)), "{status}");
    let listed: Value = app
        .get(&format!("/api/v1/observations/{observation_id}/attachments"), &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((listed[0]["id"].clone(), listed[0]["uploaded"].clone()), (json!(attachment_id), json!(false)));
    let photo_path = format!("/api/v1/attachments/{attachment_id}/photo");
    assert_problem(app.get(&photo_path, &tenant.coordinator.tokens.access).await, 404, "not_uploaded").await;

    // The first chunk; its answer lost, it is sent again and refused with where the upload stands.
    let token = &tenant.field.tokens.access;
    let half = photo.len() / 2;
    let first = put_chunk(&app, token, &hash, 0, &photo[..half]).await;
    assert_eq!(first.status(), 200);
    let again = put_chunk(&app, token, &hash, 0, &photo[..half]).await;
    assert_eq!(again.headers()["upload-offset"], half.to_string().as_str());
    assert_problem(again, 409, "offset_mismatch").await;
    let status: Value = app.get(&format!("/api/v1/uploads/{hash}"), token).await.json().await.unwrap();
    assert_eq!(status["received"], half, "resumes where it stopped");
    let last = put_chunk(&app, token, &hash, half, &photo[half..]).await;
    assert_eq!(last.status(), 201);
    let stored: Value = last.json().await.unwrap();
    assert_eq!(
        (stored["complete"].clone(), stored["width"].clone(), stored["height"].clone()),
        (json!(true), json!(1200), json!(900))
    );
    // The last chunk again (its answer lost): the photo is there.
    let replay = put_chunk(&app, token, &hash, half, &photo[half..]).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.json::<Value>().await.unwrap()["complete"], true);

    // The reporter and a coordinator see it, as a JPEG with nothing but pixels.
    for viewer in [token, &tenant.coordinator.tokens.access, &tenant.admin.tokens.access] {
        let response = app.get(&photo_path, viewer).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let served = response.bytes().await.unwrap();
        assert_no_metadata(&served);
        let decoded = image::load_from_memory(&served).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1200, 900));
    }
    let thumbnail =
        app.get(&format!("/api/v1/attachments/{attachment_id}/thumbnail"), &tenant.coordinator.tokens.access).await;
    assert_eq!(thumbnail.status(), 200);
    let thumbnail = thumbnail.bytes().await.unwrap();
    assert_no_metadata(&thumbnail);
    let decoded = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));

    // Partners never; another field user and another organisation do not find it.
    assert_problem(app.get(&photo_path, &tenant.partner.tokens.access).await, 403, "forbidden").await;
    assert_problem(
        app.get(&format!("/api/v1/observations/{observation_id}/attachments"), &tenant.partner.tokens.access).await,
        403,
        "forbidden",
    )
    .await;
    app.seed_user(&tenant.org_id, "colleague", lagesbild::domain::identity::Role::Field, None);
    let colleague = app.login("tyreso", "colleague", PASSWORD, "colleague-phone").await;
    assert_problem(app.get(&photo_path, &colleague.access).await, 404, "not_found").await;
    assert_problem(app.get(&photo_path, &other.coordinator.tokens.access).await, 404, "not_found").await;
    assert_problem(app.get(&format!("/api/v1/uploads/{hash}"), &colleague.access).await, 404, "no_attachment").await;

    // Every view is audited.
    let audit: Value = app.get("/api/v1/audit?limit=100", &tenant.admin.tokens.access).await.json().await.unwrap();
    let entries = audit["items"].as_array().unwrap().clone();
    let count = |action: &str| entries.iter().filter(|e| e["action"] == action).count();
    assert_eq!((count("read.photo"), count("read.thumbnail")), (3, 1), "{audit}");

    // Phones: the attachment syncs down to the coordinator's, not to a partner's, and not to an
    // app that does not know the table.
    let mut tablet = phone(&app, &tenant.coordinator.tokens.access);
    let changes = tablet.pull().await;
    let created = &changes["attachments"]["created"];
    assert_eq!(
        (created[0]["id"].clone(), created[0]["sha256"].clone()),
        (json!(attachment_id), json!(hash)),
        "{changes}"
    );
    let partners = phone(&app, &tenant.partner.tokens.access).pull().await;
    assert_eq!(partners["attachments"], json!({ "created": [], "updated": [], "deleted": [] }));
    let older = Phone { schema_version: 2, ..Phone::new(&app, &tenant.coordinator.tokens.access) }.pull().await;
    assert!(older.get("attachments").is_none(), "{older}");

    // The same photo attached to another observation is stored once: its upload is complete at once.
    let second = phone(&app, &colleague.access);
    let (observation_2, attachment_2) =
        ("018f0000-0000-7000-8000-00000000a002", "018f0000-0000-7000-8000-00000000b002");
    let pushed = second
        .push(json!({
            "observations": { "created": [observation(observation_2, "")], "updated": [], "deleted": [] },
            "attachments": { "created": [attachment(attachment_2, observation_2, &photo)], "updated": [], "deleted": [] },
        }))
        .await;
    assert_eq!(result_of(&pushed, attachment_2)["status"], "applied");
    let status: Value = app.get(&format!("/api/v1/uploads/{hash}"), &colleague.access).await.json().await.unwrap();
    assert_eq!(status["complete"], true);
    let files: Vec<_> = walk(&app.data_dir.path().join("photos"));
    assert_eq!(files.len(), 2, "one photo and its thumbnail: {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A PNG whose header declares `width` × `height` pixels and whose data is a few bytes: what a
/// decompression bomb looks like to a server that reads the header first.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        [&u32::try_from(data.len()).unwrap().to_be_bytes()[..], kind, data, &crc.sum().to_be_bytes()].concat()
    }
    let header = [&width.to_be_bytes()[..], &height.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut deflated, &vec![0u8; 64 * 1024]).unwrap();
    let data = deflated.finish().unwrap();
    [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &header), &chunk(b"IDAT", &data), &chunk(b"IEND", &[])].concat()
}

/// An observation with one attachment of `bytes`, pushed by `phone`; the attachment's id.
async fn attach(phone: &Phone<'_>, n: u32, bytes: &[u8]) -> String {
    let (observation_id, attachment_id) =
        (format!("018f0000-0000-7000-8000-0000000{n:05}"), format!("018f0000-0000-7000-8000-1000000{n:05}"));
    let pushed = phone
        .push(json!({
            "observations": { "created": [observation(&observation_id, "")], "updated": [], "deleted": [] },
            "attachments": { "created": [attachment(&attachment_id, &observation_id, bytes)], "updated": [], "deleted": [] },
        }))
        .await;
    assert_eq!(result_of(&pushed, &attachment_id)["status"], "applied", "{pushed}");
    attachment_id
}

#[tokio::test]
async fn every_photo_the_server_will_not_take_is_refused_with_its_reason_and_nothing_accepted_is_lost() {
    let app = spawn_app_with(|settings| settings.photo_chunk_bytes = 64 * 1024).await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let token = &tenant.field.tokens.access;
    let observation_id = "018f0000-0000-7000-8000-00000000c001";
    let photo = camera_jpeg(400, 300);

    // Attachments the push refuses, each field at fault named; the observation is stored anyway.
    let heic = json!({ "id": "heic", "observation_id": observation_id, "sha256": sha256(b"x"),
                       "content_type": "image/heic", "byte_size": 10 });
    let huge = json!({ "id": "huge", "observation_id": observation_id, "sha256": sha256(b"y"),
                       "content_type": "image/jpeg", "byte_size": 16 * 1024 * 1024 });
    let wide = json!({ "id": "wide", "observation_id": observation_id, "sha256": sha256(b"z"),
                       "content_type": "image/png", "byte_size": 10, "width": 100_000, "height": 100_000 });
    let pushed = field
        .push(json!({
            "observations": { "created": [observation(observation_id, "")], "updated": [], "deleted": [] },
            "attachments": { "created": [heic, huge, wide], "updated": [], "deleted": [] },
        }))
        .await;
    assert_eq!(result_of(&pushed, observation_id)["status"], "applied");
    for (id, field_name, code) in [
        ("heic", "content_type", "heic_unsupported"),
        ("huge", "byte_size", "too_large"),
        ("wide", "width", "too_many_pixels"),
    ] {
        let result = result_of(&pushed, id);
        assert_eq!(result["status"], "forbidden", "{result}");
        assert_eq!(
            (result["errors"][0]["field"].as_str(), result["errors"][0]["code"].as_str()),
            (Some(field_name), Some(code))
        );
    }
    // An attachment whose observation is not stored waits (conflict) and is taken once it is.
    let waiting = "018f0000-0000-7000-8000-00000000c0ff";
    let early = attachment(waiting, "018f0000-0000-7000-8000-00000000c002", &photo);
    let pushed =
        field.push(json!({ "attachments": { "created": [early.clone()], "updated": [], "deleted": [] } })).await;
    assert_eq!(result_of(&pushed, waiting)["status"], "conflict");
    let pushed = field
        .push(json!({
            "observations": { "created": [observation("018f0000-0000-7000-8000-00000000c002", "")], "updated": [], "deleted": [] },
            "attachments": { "created": [early.clone()], "updated": [], "deleted": [] },
        }))
        .await;
    assert_eq!(result_of(&pushed, waiting)["status"], "applied");
    let replay =
        field.push(json!({ "attachments": { "created": [early.clone()], "updated": [], "deleted": [] } })).await;
    assert_eq!(result_of(&replay, waiting)["status"], "unchanged", "a replayed attachment");
    let mut changed = early.clone();
    changed["sha256"] = json!(sha256(b"another photo"));
    let pushed = field.push(json!({ "attachments": { "created": [changed], "updated": [], "deleted": [] } })).await;
    assert_eq!(result_of(&pushed, waiting)["status"], "conflict", "an attachment does not change");
    // Deleted, then pushed again by a phone that missed the delete: refused, and the delete is
    // sent down again.
    let gone = attachment("gone", "018f0000-0000-7000-8000-00000000c002", b"a photo taken back");
    let pushed =
        field.push(json!({ "attachments": { "created": [gone.clone()], "updated": [], "deleted": [] } })).await;
    assert_eq!(result_of(&pushed, "gone")["status"], "applied");
    let deleted = field.push(json!({ "attachments": { "created": [], "updated": [], "deleted": ["gone"] } })).await;
    assert_eq!(result_of(&deleted, "gone")["status"], "applied");
    let mut tablet = phone(&app, &tenant.coordinator.tokens.access);
    tablet.pull().await;
    let pushed = field.push(json!({ "attachments": { "created": [gone], "updated": [], "deleted": [] } })).await;
    assert_eq!(result_of(&pushed, "gone")["status"], "conflict");
    assert_eq!(tablet.pull().await["attachments"]["deleted"], json!(["gone"]), "the delete comes again");
    // Five photos on one observation at most.
    let many: Vec<Value> =
        (0..6).map(|n| attachment(&format!("many-{n}"), observation_id, format!("photo {n}").as_bytes())).collect();
    let pushed = field.push(json!({ "attachments": { "created": many, "updated": [], "deleted": [] } })).await;
    let statuses: Vec<&str> =
        (0..6).map(|n| result_of(&pushed, &format!("many-{n}"))["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "applied", "applied", "applied", "applied", "forbidden"]);
    assert_eq!(result_of(&pushed, "many-5")["errors"][0]["code"], "too_many_photos");
    // Someone else's observation takes no photo of a field user.
    app.seed_user(&tenant.org_id, "colleague", lagesbild::domain::identity::Role::Field, None);
    let colleague = app.login("tyreso", "colleague", PASSWORD, "colleague-phone").await;
    let theirs = attachment("theirs", observation_id, b"not mine");
    let pushed = phone(&app, &colleague.access)
        .push(json!({ "attachments": { "created": [theirs], "updated": [], "deleted": [] } }))
        .await;
    assert_eq!(result_of(&pushed, "theirs")["status"], "forbidden");

    // Uploads: only of an attachment pushed first; where the chunk starts, said; within the limits.
    let unknown = sha256(b"never attached");
    assert_problem(put_chunk(&app, token, &unknown, 0, b"never attached").await, 404, "no_attachment").await;
    assert_problem(put_chunk(&app, token, "not-a-hash", 0, b"x").await, 422, "validation_failed").await;
    let hash = sha256(&photo);
    let no_offset = app
        .client
        .put(app.url(&format!("/api/v1/uploads/{hash}")))
        .bearer_auth(token)
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(no_offset, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "Upload-Offset");
    assert_problem(put_chunk(&app, token, &hash, 0, &vec![0u8; 64 * 1024 + 1]).await, 413, "payload_too_large").await;
    let longer = [&photo[..], b"more"].concat();
    assert_problem(put_chunk(&app, token, &hash, 0, &longer).await, 422, "validation_failed").await;
    assert_problem(put_chunk(&app, &tenant.partner.tokens.access, &hash, 0, &photo).await, 403, "forbidden").await;

    // Whole uploads that are not what they claim, or not a photo the server reads: refused, and
    // forgotten, so that the right bytes can be sent from the start.
    let mut n = 10;
    let mut refused = |bytes: Vec<u8>, status: u16, code: &'static str| {
        n += 1;
        let (field, app, token) = (&field, &app, token);
        async move {
            attach(field, n, &bytes).await;
            assert_problem(upload(app, token, &bytes, 64 * 1024).await, status, code).await;
            let status: Value =
                app.get(&format!("/api/v1/uploads/{}", sha256(&bytes)), token).await.json().await.unwrap();
            assert_eq!((status["received"].clone(), status["complete"].clone()), (json!(0), json!(false)), "{code}");
        }
    };
    let mut heic_bytes = vec![0, 0, 0, 24];
    heic_bytes.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic_bytes.resize(2000, 0);
    refused(heic_bytes, 415, "heic_unsupported").await;
    refused(b"GIF89a and then some".to_vec(), 415, "unsupported_type").await;
    refused(png_declaring(100_000, 100_000), 422, "too_many_pixels").await;
    // A JPEG's first bytes, then noise.
    let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    refused([&[0xFF, 0xD8, 0xFF, 0xE0][..], &noise].concat(), 422, "undecodable").await;
    // Bytes other than the hash they are sent under.
    let attachment_id = attach(&field, 40, &photo).await;
    let mut forged = photo.clone();
    let middle = forged.len() / 2;
    forged[middle] ^= 0xFF;
    let mut offset = 0;
    let mut last = None;
    while offset < forged.len() {
        let end = (offset + 64 * 1024).min(forged.len());
        last = Some(put_chunk(&app, token, &hash, offset, &forged[offset..end]).await);
        offset = end;
    }
    assert_problem(last.unwrap(), 422, "hash_mismatch").await;
    assert_eq!(upload(&app, token, &photo, 64 * 1024).await.status(), 201, "the right bytes, from the start");
    let served = app.get(&format!("/api/v1/attachments/{attachment_id}/photo"), token).await;
    assert_eq!(served.status(), 200);

    // The limits are announced.
    let info: Value = app.client.get(app.url("/api/v1/sync/info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["photos"]["chunk_bytes"], 64 * 1024);
    assert_eq!(info["photos"]["per_observation"], 5);
    assert_eq!(info["photos"]["accepted_types"], json!(["image/jpeg", "image/png", "image/webp"]));
}

#[tokio::test]
async fn an_organisation_over_its_photo_quota_is_told_so_and_keeps_what_it_has() {
    let app = spawn_app_with(|settings| settings.photo_quota_bytes = 150_000).await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let token = &tenant.field.tokens.access;
    let first = camera_jpeg(800, 600);
    let kept = attach(&field, 1, &first).await;
    assert_eq!(upload(&app, token, &first, 1 << 20).await.status(), 201);
    let second = camera_jpeg(1600, 1200);
    attach(&field, 2, &second).await;
    assert_problem(upload(&app, token, &second, 1 << 20).await, 507, "quota_exceeded").await;
    assert_eq!(app.get(&format!("/api/v1/attachments/{kept}/photo"), token).await.status(), 200);
}

#[tokio::test]
async fn a_deleted_photo_or_observation_leaves_the_phones_at_once_and_its_bytes_after_the_tombstone_horizon() {
    let app = spawn_app_with(|settings| {
        settings.tombstone_horizon_days = 0;
        settings.tombstone_purge_interval_secs = 0;
    })
    .await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let token = &tenant.field.tokens.access;
    let photo = camera_jpeg(640, 480);
    let attachment_id = attach(&field, 1, &photo).await;
    assert_eq!(upload(&app, token, &photo, 1 << 20).await.status(), 201);
    let mut tablet = phone(&app, &tenant.coordinator.tokens.access);
    tablet.pull().await;
    assert_eq!(walk(&app.data_dir.path().join("photos")).len(), 2);

    let deleted =
        field.push(json!({ "attachments": { "created": [], "updated": [], "deleted": [attachment_id] } })).await;
    assert_eq!(result_of(&deleted, &attachment_id)["status"], "applied");
    let path = format!("/api/v1/attachments/{attachment_id}/photo");
    assert_problem(app.get(&path, &tenant.coordinator.tokens.access).await, 404, "not_found").await;
    // The bytes go once the tombstone is past the horizon (here at once) and the sweep runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !walk(&app.data_dir.path().join("photos"))
        .iter()
        .all(|f| f.starts_with(app.data_dir.path().join("photos/tmp")))
    {
        assert!(std::time::Instant::now() < deadline, "the photo's files were never removed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = app.get(&format!("/api/v1/uploads/{}", sha256(&photo)), token).await;
    assert_problem(status, 404, "no_attachment").await;
    // The tablet removes it: by the delete, or (its tombstone already purged, at a horizon of
    // zero days) by a replacement snapshot without it.
    let changes = tablet.pull().await;
    let removed = changes["attachments"]["deleted"] == json!([attachment_id])
        || (changes["strategy"] == "replacement" && !changes["attachments"].to_string().contains(&attachment_id));
    assert!(removed, "{changes}");

    // Deleting the observation does the same for its photo.
    let other = camera_jpeg(600, 400);
    let attachment_id = attach(&field, 2, &other).await;
    assert_eq!(upload(&app, token, &other, 1 << 20).await.status(), 201);
    let stored = |app: &TestApp| {
        walk(&app.data_dir.path().join("photos"))
            .iter()
            .filter(|f| !f.starts_with(app.data_dir.path().join("photos/tmp")))
            .count()
    };
    assert_eq!(stored(&app), 2);
    let observation_id = "018f0000-0000-7000-8000-000000000002";
    let deleted =
        field.push(json!({ "observations": { "created": [], "updated": [], "deleted": [observation_id] } })).await;
    assert_eq!(result_of(&deleted, observation_id)["status"], "applied");
    let path = format!("/api/v1/attachments/{attachment_id}/photo");
    assert_problem(app.get(&path, &tenant.coordinator.tokens.access).await, 404, "not_found").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored(&app) > 0 {
        assert!(std::time::Instant::now() < deadline, "the deleted observation's photo was never removed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_backup_holds_the_photos_its_database_records_and_a_restore_serves_them_again() {
    use crate::cli::{lagesbild, run};
    // `run` here is the command line's; the restored server is started with the helpers'.
    // The signing key generated into the data directory, as the embedded default does.
    let app = spawn_app_with(|settings| settings.jwt_secret = None).await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let token = &tenant.field.tokens.access;
    let photo = camera_jpeg(640, 480);
    let attachment_id = attach(&field, 1, &photo).await;
    assert_eq!(upload(&app, token, &photo, 1 << 20).await.status(), 201);
    let path = format!("/api/v1/attachments/{attachment_id}/photo");
    let served = app.get(&path, token).await.bytes().await.unwrap();
    let file = app.data_dir.path().join("with-photos.backup");
    let mut command = lagesbild(&app);
    command.args(["backup", "--to", file.to_str().unwrap()]);
    let (code, said, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
    if app.database_url().is_some() {
        // On PostgreSQL the advice names the photos directory beside the dump and the key.
        assert_ne!(code, 0);
        assert!(stderr.contains("photos directory"), "{stderr}");
        return;
    }
    assert_eq!(code, 0, "{stderr}");
    assert!(said.contains("1 photos"), "{said}");

    let restored_dir = tempfile::tempdir().unwrap();
    let mut command = lagesbild(&app);
    command.env("LAGESBILD_DATA_DIR", restored_dir.path()).args(["restore", "--from", file.to_str().unwrap()]);
    let (code, said, stderr) = tokio::task::spawn_blocking(move || run(&mut command, "")).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(said.contains("2 photo files"), "the photo and its thumbnail: {said}");
    let mut settings = test_settings(restored_dir.path());
    settings.jwt_secret = None;
    let restored = lagesbild::startup::Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", restored.port());
    let _server = crate::helpers::run(restored);
    let again = app.client.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(again.status(), 200, "the old token works: the key came with the backup");
    assert_eq!(again.bytes().await.unwrap(), served, "the same photo");
}

#[tokio::test]
async fn photo_retention_removes_old_photos_and_their_bytes_keeps_the_observations_and_is_audited() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let (token, admin) = (&tenant.field.tokens.access, &tenant.admin.tokens.access);
    let year_and_a_half_ago = chrono::Utc::now().timestamp_millis() - 540 * 86_400_000;
    let (old_photo, shared_photo, new_photo) = (camera_jpeg(300, 200), camera_jpeg(320, 200), camera_jpeg(340, 200));
    let mut old_observation = observation("018f0000-0000-7000-8000-00000000d001", "gammal");
    old_observation["observed_at"] = json!(year_and_a_half_ago);
    let new_observation = observation("018f0000-0000-7000-8000-00000000d002", "ny");
    let pushed = field
        .push(json!({
            "observations": { "created": [old_observation, new_observation], "updated": [], "deleted": [] },
            "attachments": { "created": [
                attachment("old-1", "018f0000-0000-7000-8000-00000000d001", &old_photo),
                attachment("old-2", "018f0000-0000-7000-8000-00000000d001", &shared_photo),
                attachment("new-1", "018f0000-0000-7000-8000-00000000d002", &shared_photo),
                attachment("new-2", "018f0000-0000-7000-8000-00000000d002", &new_photo),
            ], "updated": [], "deleted": [] },
        }))
        .await;
    assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");
    for photo in [&old_photo, &shared_photo, &new_photo] {
        assert_eq!(upload(&app, token, photo, 1 << 20).await.status(), 201);
    }
    let mut tablet = phone(&app, &tenant.coordinator.tokens.access);
    tablet.pull().await;

    let set: Value = app.patch("/api/v1/retention", admin, &json!({ "photo_months": 12 })).await.json().await.unwrap();
    assert_eq!(set["photo_months"], 12);
    let dry: Value = app.post("/api/v1/retention/run", admin, &json!({ "dry_run": true })).await.json().await.unwrap();
    assert_eq!(
        (dry["purge"]["photo_attachments_removed"].clone(), dry["purge"]["photos_removed"].clone()),
        (json!(2), json!(1)),
        "{dry}"
    );
    assert_eq!(walk(&app.data_dir.path().join("photos")).len(), 6, "a dry run removes nothing");
    let ran: Value = app.post("/api/v1/retention/run", admin, &json!({ "dry_run": false })).await.json().await.unwrap();
    assert_eq!(
        (ran["purge"]["photo_attachments_removed"].clone(), ran["purge"]["photos_removed"].clone()),
        (json!(2), json!(1)),
        "{ran}"
    );

    // The old observation's photos are gone (the one it shared stays for the new observation);
    // the observation itself stays; the old photo's files are gone from the store.
    for (id, status) in [("old-1", 404), ("old-2", 404), ("new-1", 200), ("new-2", 200)] {
        assert_eq!(app.get(&format!("/api/v1/attachments/{id}/photo"), admin).await.status(), status, "{id}");
    }
    assert_eq!(app.get("/api/v1/observations/018f0000-0000-7000-8000-00000000d001", admin).await.status(), 200);
    assert_eq!(walk(&app.data_dir.path().join("photos")).len(), 4, "two photos and their thumbnails left");
    let changes = tablet.pull().await;
    let mut deleted: Vec<&str> =
        changes["attachments"]["deleted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["old-1", "old-2"], "phones remove them");
    let audit: Value = app.get("/api/v1/audit?action=retention.run", admin).await.json().await.unwrap();
    let runs: Vec<&Value> =
        audit["items"].as_array().unwrap().iter().filter(|e| e["action"] == "retention.run").collect();
    assert_eq!(runs[0]["filters"]["purge"]["photos_removed"], 1, "{audit}");
}

#[tokio::test]
async fn the_observation_export_links_every_photo_and_its_zip_holds_them_for_coordinators_only() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let field = phone(&app, &tenant.field.tokens.access);
    let (token, coordinator) = (&tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    let (first, second, waiting) = (camera_jpeg(300, 200), camera_jpeg(310, 200), camera_jpeg(320, 200));
    let observation_id = "018f0000-0000-7000-8000-00000000e001";
    let pushed = field
        .push(json!({
            "observations": { "created": [observation(observation_id, ""), observation("018f0000-0000-7000-8000-00000000e002", "")], "updated": [], "deleted": [] },
            "attachments": { "created": [
                attachment("018f0000-0000-7000-8000-10000000e001", observation_id, &first),
                attachment("018f0000-0000-7000-8000-10000000e002", observation_id, &second),
                attachment("018f0000-0000-7000-8000-10000000e003", observation_id, &waiting),
            ], "updated": [], "deleted": [] },
        }))
        .await;
    assert!(pushed["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{pushed}");
    for photo in [&first, &second] {
        assert_eq!(upload(&app, token, photo, 1 << 20).await.status(), 201);
    }
    let base = app.url("");
    let links = [
        format!("{base}/api/v1/attachments/018f0000-0000-7000-8000-10000000e001/photo"),
        format!("{base}/api/v1/attachments/018f0000-0000-7000-8000-10000000e002/photo"),
    ];

    // CSV and GeoJSON: the photos that arrived, as links (the one still on its way is not there).
    let csv = app.get("/api/v1/exports/observations?format=csv&lang=en", coordinator).await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let photos_column = headers.iter().position(|h| h == "Photos").expect("a Photos column");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let with_photos = rows.iter().find(|r| &r[0] == observation_id).unwrap();
    assert_eq!(&with_photos[photos_column], links.join(" ").as_str());
    let without = rows.iter().find(|r| &r[0] != observation_id).unwrap();
    assert_eq!(&without[photos_column], "");
    let geojson: Value =
        app.get("/api/v1/exports/observations?format=geojson", coordinator).await.json().await.unwrap();
    let feature = geojson["features"].as_array().unwrap().iter().find(|f| f["id"] == observation_id).unwrap();
    assert_eq!(feature["properties"]["photos"], json!(links));

    // The ZIP: the CSV naming the files beside it, and the photos as the server serves them.
    let response = app.get("/api/v1/exports/observations?format=zip", coordinator).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = archive.file_names().map(|name| name.unwrap().into_owned()).collect();
    names.sort();
    let expected_files = [
        format!("foton/{observation_id}/018f0000-0000-7000-8000-10000000e001.jpg"),
        format!("foton/{observation_id}/018f0000-0000-7000-8000-10000000e002.jpg"),
    ];
    assert_eq!(names, [expected_files[0].clone(), expected_files[1].clone(), "observationer.csv".to_owned()]);
    let mut inner_csv = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("observationer.csv").unwrap(), &mut inner_csv).unwrap();
    assert!(inner_csv.contains(&expected_files.join(" ")), "{inner_csv}");
    let served = app
        .get("/api/v1/attachments/018f0000-0000-7000-8000-10000000e002/photo", coordinator)
        .await
        .bytes()
        .await
        .unwrap();
    let mut zipped = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(&expected_files[1]).unwrap(), &mut zipped).unwrap();
    assert_eq!(zipped, served.to_vec());
    let audit: Value =
        app.get("/api/v1/audit?action=export.observations", &tenant.admin.tokens.access).await.json().await.unwrap();
    assert!(audit["items"].as_array().unwrap().iter().any(|e| e["format"] == "zip" && e["row_count"] == 2), "{audit}");

    // Partners never: neither the ZIP nor links in their counts.
    for format in ["zip", "geojson"] {
        let path = format!("/api/v1/exports/observations?format={format}");
        assert_problem(app.get(&path, &tenant.partner.tokens.access).await, 422, "validation_failed").await;
    }
    let counts =
        app.get("/api/v1/exports/observations?format=csv", &tenant.partner.tokens.access).await.text().await.unwrap();
    assert!(!counts.contains("/api/v1/attachments/"), "{counts}");
}
