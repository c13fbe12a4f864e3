// Data for the dashboard's scenarios: areas around Tyresö imported by an administrator, and a
// few months of observations and shifts pushed by a field user's phone through the sync API.

'use strict'

const crypto = require('node:crypto')

/** A UUIDv7, as phones make them. */
function uuidv7(at = Date.now()) {
  const bytes = crypto.randomBytes(16)
  let now = at
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = now % 256
    now = Math.floor(now / 256)
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const ring = (points) => [[...points, points[0]]]

/** Demo areas drawn roughly around the approximate centres in DOMAIN.md (not real boundaries). */
const AREAS = {
  type: 'FeatureCollection',
  features: [
    {
      type: 'Feature',
      properties: { code: 'TY', name: 'Tyresö' },
      geometry: { type: 'Polygon', coordinates: ring([[18.16, 59.205], [18.33, 59.205], [18.33, 59.262], [18.16, 59.262]]) },
    },
    {
      type: 'Feature',
      properties: { code: 'TC', name: 'Tyresö centrum', parent_code: 'TY' },
      geometry: { type: 'Polygon', coordinates: ring([[18.214, 59.237], [18.232, 59.235], [18.246, 59.241], [18.243, 59.252], [18.222, 59.253], [18.212, 59.246]]) },
    },
    {
      type: 'Feature',
      properties: { code: 'TB', name: 'Trollbäcken', parent_code: 'TY' },
      geometry: { type: 'Polygon', coordinates: ring([[18.178, 59.216], [18.205, 59.213], [18.216, 59.224], [18.207, 59.233], [18.183, 59.231]]) },
    },
    {
      type: 'Feature',
      properties: { code: 'TS', name: 'Tyresö strand', parent_code: 'TY' },
      geometry: { type: 'Polygon', coordinates: ring([[18.272, 59.228], [18.302, 59.226], [18.309, 59.241], [18.281, 59.245]]) },
    },
  ],
}

const DAY = 86_400_000
const CATEGORIES = ['vandalism', 'graffiti', 'littering', 'youth_gathering', 'lighting', 'disorder', 'positive', 'unsafe_place']
/** Where things were seen: mostly around Tyresö centrum, some in Trollbäcken and Tyresö strand. */
const SPOTS = [
  [59.2443, 18.2284], [59.2446, 18.2279], [59.2439, 18.2291], [59.2448, 18.2262], [59.2472, 18.2335],
  [59.2405, 18.2240], [59.2237, 18.1960], [59.2251, 18.1992], [59.2215, 18.2050], [59.2355, 18.2880],
  [59.2330, 18.2950], [59.2300, 18.2600],
]

/** Observations over the last months, in the evening and at night more than by day. */
function observations(now) {
  return SPOTS.flatMap(([lat, lon], i) => [0, 1].map((round) => {
    const k = i * 2 + round
    const observedAt = now - (k * 11 + 2) * DAY - ((k * 7) % 24) * 3_600_000
    return {
      id: uuidv7(observedAt),
      category: CATEGORIES[k % CATEGORIES.length],
      severity: (k % 5) + 1,
      perceived_safety: 5 - (k % 4),
      people_count: k % 6,
      age_band: ['13_15', '16_17', '18_24', 'unknown'][k % 4],
      note: `Exempel ${k + 1}`,
      lat: lat + round * 0.0003,
      lon: lon + round * 0.0004,
      accuracy_m: 10,
      observed_at: observedAt,
      needs_follow_up: k % 3 === 0,
    }
  }))
}

/** Outreach shifts in Tyresö centrum and Trollbäcken: presence beside the observations. */
function shifts(now) {
  return [[59.2443, 18.2284, 3], [59.2240, 18.1970, 2], [59.2450, 18.2300, 4]].map(([lat, lon, girls], i) => {
    const startedAt = now - (i * 20 + 5) * DAY
    return {
      id: uuidv7(startedAt),
      activity_type: 'outreach_shift',
      unit: 'falt',
      started_at: startedAt,
      ended_at: startedAt + 3 * 3_600_000,
      lat,
      lon,
      girls,
      boys: 2,
      gender_other: 0,
      gender_unknown: 0,
      age_under_13: 0,
      age_13_15: girls,
      age_16_17: 2,
      age_18_24: 0,
      age_25_plus: 0,
      age_unknown: 0,
      note: '',
    }
  })
}

/** Pushes the observations and shifts as one phone of `user` (an api.login view). */
async function pushRecords(user) {
  const pulled = await user.pull()
  const now = Date.now()
  const answer = await user.push(pulled.timestamp, {
    observations: { created: observations(now), updated: [], deleted: [] },
    activity_logs: { created: shifts(now), updated: [], deleted: [] },
  })
  const refused = answer.results.filter((result) => result.status !== 'applied')
  if (refused.length) throw new Error(`seed records refused: ${JSON.stringify(refused)}`)
  return answer.results.length
}

module.exports = { AREAS, pushRecords, uuidv7 }
