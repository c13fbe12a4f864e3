// Position: the phone's GPS fix with its accuracy, and a pin the user drags on a plain grid (no
// map tiles, nothing from the network) when the fix is wrong, or an area picked from the list.

import * as db from './db.js'
import { t } from './i18n.js'

const SVG = 'http://www.w3.org/2000/svg'
const METRES_PER_DEGREE = 111_320
const WIDTH = 320
const HEIGHT = 200

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value))
  return node
}

export function distanceMetres(a, b) {
  const dy = (b.lat - a.lat) * METRES_PER_DEGREE
  const dx = (b.lon - a.lon) * METRES_PER_DEGREE * Math.cos((a.lat * Math.PI) / 180)
  return Math.hypot(dx, dy)
}

/** A value the server sends as JSON text (an area's `bbox` and `outline`), or already parsed. */
function parsed(value) {
  if (typeof value !== 'string') return value ?? null
  try {
    return JSON.parse(value)
  } catch {
    return null
  }
}

/** An area's polygons as lists of rings of [lon, lat], from its outline. */
export function areaPolygons(area) {
  const outline = parsed(area.outline)
  if (outline?.type === 'Polygon' && Array.isArray(outline.coordinates)) return [outline.coordinates]
  if (outline?.type === 'MultiPolygon' && Array.isArray(outline.coordinates)) return outline.coordinates
  return []
}

function areaBox(area) {
  const b = parsed(area.bbox)
  if (Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === 'number')) {
    return { minLon: b[0], minLat: b[1], maxLon: b[2], maxLat: b[3] }
  }
  const rings = areaPolygons(area).flat()
  const points = rings.flat().filter((p) => Array.isArray(p) && p.length >= 2)
  if (!points.length) return null
  const lons = points.map((p) => p[0])
  const lats = points.map((p) => p[1])
  return { minLon: Math.min(...lons), minLat: Math.min(...lats), maxLon: Math.max(...lons), maxLat: Math.max(...lats) }
}

/** Where the polygons' boundaries cross the latitude `lat`: the inside spans, as [west, east]. */
function spansAt(polygons, lat) {
  const crossings = []
  for (const ring of polygons.flat()) {
    for (let i = 0; i + 1 < ring.length; i += 1) {
      const [x1, y1] = ring[i]
      const [x2, y2] = ring[i + 1]
      if ((y1 <= lat) !== (y2 <= lat)) crossings.push(x1 + ((lat - y1) / (y2 - y1)) * (x2 - x1))
    }
  }
  crossings.sort((a, b) => a - b)
  const spans = []
  for (let i = 0; i + 1 < crossings.length; i += 2) spans.push([crossings[i], crossings[i + 1]])
  return spans
}

/** `spans` less every span of `holes`. */
function subtract(spans, holes) {
  let rest = spans
  for (const [a, b] of holes) {
    rest = rest.flatMap(([x, y]) => {
      if (b <= x || a >= y) return [[x, y]]
      return [[x, a], [b, y]].filter(([p, q]) => q - p > 0)
    })
  }
  return rest
}

/**
 * A point well inside the area and outside the areas within it (its children), so that the
 * server, which files a record under the smallest area holding it, files it under this one; with
 * the distance to the farthest corner of the area as its uncertainty. Null when the area has no
 * outline to pick from.
 */
export function pickPoint(area, children = []) {
  const box = areaBox(area)
  if (!box) return null
  const polygons = areaPolygons(area)
  const centre = { lat: (box.minLat + box.maxLat) / 2, lon: (box.minLon + box.maxLon) / 2 }
  let best = null
  if (polygons.length) {
    const holes = children.flatMap(areaPolygons)
    for (let k = 1; k < 16; k += 1) {
      const lat = box.minLat + ((box.maxLat - box.minLat) * k) / 16
      for (const [west, east] of subtract(spansAt(polygons, lat), spansAt(holes, lat))) {
        if (!best || east - west > best.width) best = { width: east - west, lat, lon: (west + east) / 2 }
      }
    }
    if (!best) return null
  }
  const point = best ? { lat: best.lat, lon: best.lon } : centre
  const corners = [[box.minLat, box.minLon], [box.minLat, box.maxLon], [box.maxLat, box.minLon], [box.maxLat, box.maxLon]]
  const radius = Math.max(...corners.map(([lat, lon]) => distanceMetres(point, { lat, lon })))
  return { lat: Number(point.lat.toFixed(6)), lon: Number(point.lon.toFixed(6)), radius: Math.round(Math.min(radius, 100_000)) }
}

/** The position part of the observation form. `initial` is a stored position when fixing a record. */
export class PositionPicker {
  constructor(container, initial = null) {
    this.container = container
    this.reference = null // { lat, lon, accuracy } from GPS, an area or a stored record
    this.pin = null // { lat, lon }
    this.status = 'waiting'
    this.watch = null
    this.render()
    if (initial) {
      this.reference = { lat: initial.lat, lon: initial.lon, accuracy: initial.accuracy_m ?? 50, stored: true }
      this.pin = { lat: initial.lat, lon: initial.lon }
      this.status = 'ok'
      this.update()
    } else {
      this.lastKnown().then(() => this.locate())
    }
    this.loadAreas()
  }

  async lastKnown() {
    const last = await db.setting('last_position')
    if (last && !this.reference) {
      this.reference = { ...last, accuracy: Math.max(last.accuracy, 200), stale: true }
      this.pin = { lat: last.lat, lon: last.lon }
      this.update()
    }
  }

  render() {
    this.container.replaceChildren()
    const status = document.createElement('p')
    status.className = 'position-status'
    status.setAttribute('aria-live', 'polite')
    this.statusLine = status
    const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'pin-map', tabindex: 0, role: 'application' })
    svg.setAttribute('aria-label', t('position_help', { m: 50 }))
    this.svg = svg
    const help = document.createElement('p')
    help.className = 'hint'
    this.help = help
    const actions = document.createElement('div')
    actions.className = 'row'
    const gps = document.createElement('button')
    gps.type = 'button'
    gps.className = 'secondary'
    gps.textContent = t('use_gps')
    gps.addEventListener('click', () => {
      this.pin = null
      this.locate(true)
    })
    actions.append(gps)
    this.areaBox = document.createElement('div')
    this.container.append(status, svg, help, actions, this.areaBox)
    this.bindDrag()
    this.update()
  }

  async loadAreas() {
    const all = (await db.all('areas')).filter((area) => area.active !== false && !area._deleted)
    const picks = new Map()
    for (const area of all) {
      const point = pickPoint(area, all.filter((other) => other.parent_code && other.parent_code === area.code))
      if (point) picks.set(area.id, point)
    }
    const areas = all.filter((area) => picks.has(area.id))
    if (!areas.length) return
    const labelNode = document.createElement('label')
    labelNode.className = 'field'
    labelNode.textContent = t('pick_area')
    const select = document.createElement('select')
    select.append(new Option(t('no_area'), ''))
    for (const area of areas.sort((a, b) => String(a.name).localeCompare(String(b.name)))) {
      select.append(new Option(area.name ?? area.code, area.id))
    }
    select.addEventListener('change', () => {
      const centre = picks.get(select.value)
      if (!centre) return
      this.reference = { lat: centre.lat, lon: centre.lon, accuracy: centre.radius, area: true }
      this.pin = { lat: centre.lat, lon: centre.lon }
      this.status = 'ok'
      this.update()
    })
    labelNode.append(select)
    this.areaBox.replaceChildren(labelNode)
  }

  locate(force = false) {
    if (!('geolocation' in navigator)) {
      this.status = 'none'
      this.update()
      return
    }
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch)
    this.status = this.reference && !force ? this.status : 'waiting'
    this.update()
    this.watch = navigator.geolocation.watchPosition(
      (fix) => {
        const next = { lat: fix.coords.latitude, lon: fix.coords.longitude, accuracy: Math.round(fix.coords.accuracy) }
        const better = !this.reference || this.reference.stale || this.reference.area || force ||
          next.accuracy <= Math.max(this.reference.accuracy * 2, 30) || Date.now() - (this.reference.at ?? 0) > 30_000
        if (!better) return
        force = false
        const pinFollows = !this.pin || (this.reference && this.pin.lat === this.reference.lat && this.pin.lon === this.reference.lon)
        this.reference = { ...next, at: Date.now() }
        if (pinFollows) this.pin = { lat: next.lat, lon: next.lon }
        this.status = 'ok'
        db.saveSetting('last_position', next)
        this.update()
      },
      (error) => {
        if (this.reference && !this.reference.stale) return
        this.status = error.code === error.PERMISSION_DENIED ? 'denied' : this.reference ? 'ok' : 'none'
        this.update()
      },
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 30_000 },
    )
  }

  stop() {
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch)
    this.watch = null
  }

  /** Metres per SVG unit: the view spans the accuracy circle with room around it. */
  scale() {
    const span = Math.max(120, (this.reference?.accuracy ?? 50) * 3)
    return span / HEIGHT
  }

  toXY(point) {
    const s = this.scale()
    const dy = (point.lat - this.reference.lat) * METRES_PER_DEGREE
    const dx = (point.lon - this.reference.lon) * METRES_PER_DEGREE * Math.cos((this.reference.lat * Math.PI) / 180)
    return { x: WIDTH / 2 + dx / s, y: HEIGHT / 2 - dy / s }
  }

  fromXY(x, y) {
    const s = this.scale()
    const dx = (x - WIDTH / 2) * s
    const dy = (HEIGHT / 2 - y) * s
    return {
      lat: this.reference.lat + dy / METRES_PER_DEGREE,
      lon: this.reference.lon + dx / (METRES_PER_DEGREE * Math.cos((this.reference.lat * Math.PI) / 180)),
    }
  }

  bindDrag() {
    const place = (event) => {
      if (!this.reference) return
      const box = this.svg.getBoundingClientRect()
      const x = ((event.clientX - box.left) / box.width) * WIDTH
      const y = ((event.clientY - box.top) / box.height) * HEIGHT
      this.pin = this.fromXY(Math.min(WIDTH, Math.max(0, x)), Math.min(HEIGHT, Math.max(0, y)))
      this.update()
    }
    this.svg.addEventListener('pointerdown', (event) => {
      if (!this.reference) return
      this.svg.setPointerCapture(event.pointerId)
      this.dragging = true
      place(event)
    })
    this.svg.addEventListener('pointermove', (event) => {
      if (this.dragging) place(event)
    })
    const end = () => {
      this.dragging = false
    }
    this.svg.addEventListener('pointerup', end)
    this.svg.addEventListener('pointercancel', end)
    this.svg.addEventListener('keydown', (event) => {
      const steps = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }
      const step = steps[event.key]
      if (!step || !this.pin) return
      event.preventDefault()
      const here = this.toXY(this.pin)
      const units = 5 / this.scale()
      this.pin = this.fromXY(here.x + step[0] * units, here.y + step[1] * units)
      this.update()
    })
  }

  update() {
    const svg = this.svg
    if (!svg) return
    svg.replaceChildren()
    svg.append(el('rect', { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: 'map-bg' }))
    const s = this.scale()
    const gridMetres = s * HEIGHT > 600 ? 100 : s * HEIGHT > 250 ? 50 : 20
    const gridUnits = gridMetres / s
    for (let x = WIDTH / 2 % gridUnits; x < WIDTH; x += gridUnits) svg.append(el('line', { x1: x, y1: 0, x2: x, y2: HEIGHT, class: 'grid' }))
    for (let y = HEIGHT / 2 % gridUnits; y < HEIGHT; y += gridUnits) svg.append(el('line', { x1: 0, y1: y, x2: WIDTH, y2: y, class: 'grid' }))
    svg.append(el('text', { x: WIDTH - 6, y: 14, class: 'north', 'text-anchor': 'end' }))
    svg.lastChild.textContent = 'N ↑'
    this.help.textContent = t('position_help', { m: gridMetres })
    svg.setAttribute('aria-label', t('position_help', { m: gridMetres }))
    if (this.reference) {
      svg.append(el('circle', { cx: WIDTH / 2, cy: HEIGHT / 2, r: Math.max(3, this.reference.accuracy / s), class: 'accuracy' }))
      svg.append(el('circle', { cx: WIDTH / 2, cy: HEIGHT / 2, r: 5, class: 'gps-dot' }))
    }
    if (this.pin && this.reference) {
      const { x, y } = this.toXY(this.pin)
      const pin = el('g', { transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`, class: 'pin' })
      pin.append(el('path', { d: 'M0 0 C -4 -10 -12 -14 -12 -24 A 12 12 0 1 1 12 -24 C 12 -14 4 -10 0 0 Z' }))
      pin.append(el('circle', { cx: 0, cy: -24, r: 4.5, class: 'pin-hole' }))
      svg.append(pin)
    }
    this.statusLine.classList.toggle('warn', this.status !== 'ok' || (this.reference?.accuracy ?? 0) > 50)
    this.statusLine.textContent = this.describe()
  }

  describe() {
    if (this.status === 'denied' && !this.reference) return t('position_denied')
    if (this.status === 'none' && !this.reference) return t('position_none')
    if (!this.reference) return t('position_waiting')
    if (this.reference.stale) return t('position_last_known')
    const parts = []
    if (!this.reference.area && !this.reference.stored) parts.push(t('position_accuracy', { m: this.reference.accuracy }))
    const moved = this.pin ? Math.round(distanceMetres(this.reference, this.pin)) : 0
    if (moved >= 3) parts.push(t('position_moved', { m: moved }))
    if ((this.reference.accuracy > 50 && moved < 3 && !this.reference.area)) parts.push(t('position_poor'))
    return parts.join(' · ')
  }

  /** The chosen position: { lat, lon, accuracy_m }, or null. */
  value() {
    if (!this.pin || !this.reference) return null
    const moved = distanceMetres(this.reference, this.pin)
    // A dragged pin is as certain as the user's eye: say so with a modest accuracy.
    const accuracy = moved >= 3 ? Math.min(this.reference.accuracy, 25) : this.reference.accuracy
    return { lat: Number(this.pin.lat.toFixed(6)), lon: Number(this.pin.lon.toFixed(6)), accuracy_m: accuracy }
  }
}
