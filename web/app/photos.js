// Photos taken in the field: read from the camera or the gallery, scaled down on the phone to at
// most 2000 pixels on the long edge and saved as JPEG (a canvas writes no EXIF, so no position
// or device data leaves with it), named by the SHA-256 of those bytes; and their upload, in
// chunks that resume where they stopped, after the observation they belong to has synced.

import * as db from './db.js'
import { authorised, HttpError, uuidv7 } from './api.js'

const MAX_EDGE = 2000
const QUALITY = 0.85
const CHUNK = 512 * 1024

async function sha256(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * A photo ready to keep with a record: `{ id, sha256, blob, content_type, width, height }`.
 * Throws `unreadable` when the browser cannot decode the file (HEIC on some browsers).
 */
export async function prepare(file) {
  let bitmap
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' })
  } catch {
    throw new Error('unreadable')
  }
  const scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height))
  const width = Math.max(1, Math.round(bitmap.width * scale))
  const height = Math.max(1, Math.round(bitmap.height * scale))
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  const context = canvas.getContext('2d')
  context.fillStyle = '#fff'
  context.fillRect(0, 0, width, height)
  context.drawImage(bitmap, 0, 0, width, height)
  bitmap.close?.()
  const blob = await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('unreadable'))), 'image/jpeg', QUALITY))
  return { id: uuidv7(), sha256: await sha256(blob), blob, content_type: 'image/jpeg', width, height }
}

async function status(hash) {
  const response = await authorised(`/api/v1/uploads/${hash}`)
  return response.json()
}

/** Sends one photo from where its upload stands; true once the server has it. */
async function uploadOne(photo) {
  let state = await status(photo.sha256)
  let chunk = CHUNK
  while (!state.complete) {
    const end = Math.min(state.received + chunk, photo.blob.size)
    try {
      const response = await authorised(`/api/v1/uploads/${photo.sha256}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'upload-offset': String(state.received) },
        body: photo.blob.slice(state.received, end),
      })
      state = await response.json()
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      if (error.status === 409) state = await status(photo.sha256) // another copy got further
      else if (error.status === 413 && chunk > 16 * 1024) chunk = Math.floor(chunk / 2)
      else throw error
    }
  }
  return true
}

/**
 * Uploads the photos whose attachment the server has taken; returns how many arrived. A photo the
 * server refuses keeps its reason (shown in the outbox); a lost connection leaves the rest for the
 * next sync, which resumes each upload where it stopped.
 */
export async function uploadPending() {
  const attachments = await db.all('attachments')
  const taken = new Set(attachments.filter((a) => a._status === 'synced' && !a.sync_error).map((a) => a.sha256))
  let uploaded = 0
  for (const photo of await db.all(db.PHOTOS)) {
    if (photo.uploaded || !taken.has(photo.sha256)) continue
    try {
      await uploadOne(photo)
      // The server has it: the phone keeps no copy (its storage is the user's).
      await db.put(db.PHOTOS, { ...photo, blob: null, uploaded: true, error: null })
      uploaded += 1
    } catch (error) {
      if (!(error instanceof HttpError) || error.status === 401) throw error
      // 404: the attachment is not the server's (yet); 507: storage full, tried again later.
      if (error.status !== 404) await db.put(db.PHOTOS, { ...photo, error: error.code ?? String(error.status) })
      if (error.status === 507) break
    }
  }
  return uploaded
}
