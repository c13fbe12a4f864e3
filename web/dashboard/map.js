// The heat map: hexagons from `/api/v1/heatmap` over the area outlines, drawn as SVG in Web
// Mercator (so an optional tile layer lines up), with zoom and pan by buttons, wheel, drag and
// keys. A hexagon opens its figures and the area it lies in; an area opens the area's picture.

import * as api from './api.js'
import * as filters from './filters.js'
import { h, s, fill, failure } from './dom.js'
import { t, formatNumber, formatShare } from './i18n.js'

/** SVG units are pixels at zoom 14: a municipality spans a few thousand of them. */
const BASE_ZOOM = 14
const WORLD = 256 * 2 ** BASE_ZOOM
const MAX_TILES = 80

export function project([lon, lat]) {
  const r = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180
  return [((lon + 180) / 360) * WORLD, ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * WORLD]
}

function polygons(geometry) {
  if (!geometry) return []
  if (geometry.type === 'Polygon') return [geometry.coordinates]
  if (geometry.type === 'MultiPolygon') return geometry.coordinates
  return []
}

function pathOf(geometry) {
  return polygons(geometry)
    .flatMap((rings) => rings.map((ring) => ring.map((point, i) => {
      const [x, y] = project(point)
      return `${i ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`
    }).join('') + 'Z'))
    .join('')
}

function inRing([x, y], ring) {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i]
    const [xj, yj] = ring[j]
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

/** Whether a lon/lat point lies in a (Multi)Polygon, holes excluded. */
export function contains(geometry, point) {
  return polygons(geometry).some(([outer, ...holes]) => outer && inRing(point, outer) && !holes.some((hole) => inRing(point, hole)))
}

function centre(ring) {
  const points = ring.slice(0, -1)
  const sum = points.reduce(([a, b], [x, y]) => [a + x, b + y], [0, 0])
  return [sum[0] / points.length, sum[1] / points.length]
}

function bboxArea(feature) {
  const [w, south, e, north] = feature.bbox ?? [0, 0, 0, 0]
  return (e - w) * (north - south)
}

/** A hexagon's colour: its class's, from the heat map's classes (the same the printed report uses). */
function colourOf(classes, p) {
  return classes?.[p.class]?.colour ?? '#8b949e'
}

/** The bounding box (SVG units) of the areas and hexagons, or null when there is nothing. */
function extentOf(areas, cells) {
  let box = null
  const add = (point) => {
    const [x, y] = project(point)
    box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)] : [x, y, x, y]
  }
  for (const feature of areas) for (const rings of polygons(feature.geometry)) for (const point of rings[0] ?? []) add(point)
  for (const feature of cells) for (const rings of polygons(feature.geometry)) for (const point of rings[0] ?? []) add(point)
  return box
}

class MapView {
  constructor(config) {
    this.tiles = config?.tiles ?? null
    this.view = null
    this.extent = null
    this.selected = null
    this.svg = s('svg', { class: 'map', role: 'group', 'aria-label': t('map_label'), tabindex: '0', 'aria-describedby': 'map-keys' })
    this.tileLayer = s('g', { class: 'tiles', 'aria-hidden': 'true' })
    this.areaLayer = s('g', { class: 'areas' })
    this.cellLayer = s('g', { class: 'cells' })
    this.labelLayer = s('g', { class: 'labels', 'aria-hidden': 'true' })
    const hatch = s('pattern', { id: 'hatch', width: '8', height: '8', patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { width: '8', height: '8', fill: '#30363d' }), s('line', { x1: '0', y1: '0', x2: '0', y2: '8', stroke: '#8b949e', 'stroke-width': '3' }))
    this.svg.append(s('defs', {}, hatch), this.tileLayer, this.areaLayer, this.cellLayer, this.labelLayer)
    this.bindGestures()
  }

  bindGestures() {
    let drag = null
    this.moved = false
    // Listeners on the window go when the map leaves the page (another view replaced it).
    const windowListeners = new AbortController()
    const live = () => {
      if (this.svg.isConnected) return true
      windowListeners.abort()
      return false
    }
    const options = { signal: windowListeners.signal }
    this.svg.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || !this.view) return
      drag = { x: event.clientX, y: event.clientY, view: { ...this.view } }
      this.moved = false
    })
    window.addEventListener('pointermove', (event) => {
      if (!live() || !drag) return
      const dx = event.clientX - drag.x
      const dy = event.clientY - drag.y
      if (!this.moved && Math.hypot(dx, dy) < 5) return
      this.moved = true
      const k = drag.view.w / (this.svg.clientWidth || 1)
      this.setView({ ...drag.view, x: drag.view.x - dx * k, y: drag.view.y - dy * k })
    }, options)
    window.addEventListener('pointerup', () => {
      drag = null
      live()
    }, options)
    // A drag is not a click on what it started over.
    this.svg.addEventListener('click', (event) => {
      if (this.moved) {
        event.stopPropagation()
        event.preventDefault()
        this.moved = false
      }
    }, true)
    this.svg.addEventListener('wheel', (event) => {
      if (!this.view) return
      event.preventDefault()
      const rect = this.svg.getBoundingClientRect()
      const fx = (event.clientX - rect.left) / (rect.width || 1)
      const fy = (event.clientY - rect.top) / (rect.height || 1)
      this.zoom(event.deltaY < 0 ? 1.25 : 0.8, fx, fy)
    }, { passive: false })
    this.svg.addEventListener('keydown', (event) => {
      if (!this.view || event.target !== this.svg) return
      const step = this.view.w / 8
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }
      if (moves[event.key]) {
        event.preventDefault()
        const [dx, dy] = moves[event.key]
        this.setView({ ...this.view, x: this.view.x + dx, y: this.view.y + dy })
      } else if (event.key === '+' || event.key === '=') {
        event.preventDefault()
        this.zoom(1.5)
      } else if (event.key === '-') {
        event.preventDefault()
        this.zoom(1 / 1.5)
      }
    })
    window.addEventListener('resize', () => live() && this.view && this.setView(this.view), options)
  }

  /** Zooms by `factor` around a point given as fractions of the map's width and height. */
  zoom(factor, fx = 0.5, fy = 0.5) {
    const v = this.view
    if (!v) return
    const w = Math.max(60, Math.min(WORLD / 4, v.w / factor))
    const k = w / v.w
    this.setView({ x: v.x + (v.w - w) * fx, y: v.y + (v.h - v.h * k) * fy, w, h: v.h * k })
  }

  fit() {
    if (!this.extent) return
    const [x0, y0, x1, y1] = this.extent
    const pad = Math.max(x1 - x0, y1 - y0) * 0.06 + 40
    this.setView({ x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad }, { fit: true })
  }

  /** Shows a region, widened to the map's own shape so nothing is distorted. */
  setView(view, { fit = false } = {}) {
    const aspect = (this.svg.clientHeight || 500) / (this.svg.clientWidth || 800)
    let { x, y, w, h: height } = view
    if (fit) {
      if (height / w > aspect) {
        const wider = height / aspect
        x -= (wider - w) / 2
        w = wider
      } else {
        const taller = w * aspect
        y -= (taller - height) / 2
        height = taller
      }
    } else {
      const taller = w * aspect
      y += (height - taller) / 2
      height = taller
    }
    this.view = { x, y, w, h: height }
    this.svg.setAttribute('viewBox', `${x.toFixed(1)} ${y.toFixed(1)} ${w.toFixed(1)} ${height.toFixed(1)}`)
    const fontSize = `${(w / (this.svg.clientWidth || 800)) * 13}px`
    if (this.labelLayer.style.fontSize !== fontSize) {
      // Names change size with the zoom: place them again.
      this.labelLayer.style.fontSize = fontSize
      this.placeLabels()
    }
    clearTimeout(this.tileTimer)
    if (this.tiles) this.tileTimer = setTimeout(() => this.drawTiles(), 120)
  }

  drawTiles() {
    const v = this.view
    if (!v || !this.tiles) return
    // Within the tiles' zoom range: past the deepest level its tiles are drawn larger.
    const [least, most] = [this.tiles.min_zoom ?? 0, Math.min(19, this.tiles.max_zoom ?? 19)]
    const zoom = Math.max(least, Math.min(most, Math.round(BASE_ZOOM + Math.log2((this.svg.clientWidth || 800) / v.w))))
    const size = 256 * 2 ** (BASE_ZOOM - zoom)
    const [tx0, ty0] = [Math.floor(v.x / size), Math.floor(v.y / size)]
    const [tx1, ty1] = [Math.floor((v.x + v.w) / size), Math.floor((v.y + v.h) / size)]
    if ((tx1 - tx0 + 1) * (ty1 - ty0 + 1) > MAX_TILES) return
    const last = 2 ** zoom - 1
    const images = []
    for (let ty = Math.max(0, ty0); ty <= Math.min(last, ty1); ty += 1) {
      for (let tx = Math.max(0, tx0); tx <= Math.min(last, tx1); tx += 1) {
        const href = this.tiles.url.replace('{z}', zoom).replace('{x}', tx).replace('{y}', ty)
        images.push(s('image', { href, x: tx * size, y: ty * size, width: size, height: size, preserveAspectRatio: 'none' }))
      }
    }
    this.tileLayer.replaceChildren(...images)
  }

  drawAreas(areas, onOpen) {
    const sorted = [...areas].sort((a, b) => bboxArea(b) - bboxArea(a))
    this.areaLayer.replaceChildren()
    this.labelLayer.replaceChildren()
    for (const feature of sorted) {
      const name = feature.properties?.name || feature.properties?.code
      const open = () => onOpen(feature.properties.code)
      const path = s('path', {
        d: pathOf(feature.geometry), class: 'area', tabindex: '0', role: 'link', 'aria-label': t('area_label', { name }),
        'data-code': feature.properties.code, onclick: open,
        onkeydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault()
            open()
          }
        },
      }, s('title', { text: name }))
      this.areaLayer.append(path)
      const [w, south, e, north] = feature.bbox ?? []
      if (w !== undefined) {
        const [x, y] = project([(w + e) / 2, north])
        this.labelLayer.append(s('text', { x, y, dy: '1.2em', 'text-anchor': 'middle', 'data-y': y, text: name }))
      }
    }
    this.placeLabels()
  }

  /**
   * Keeps the area names from overlapping: the larger areas' names first, each where its area
   * puts it or a line below or above; a name with no free place is hidden (the area still says
   * it on hover and to a screen reader).
   */
  placeLabels() {
    const placed = []
    const line = (parseFloat(this.labelLayer.style.fontSize) || 13) * 1.3
    const apart = (a, b) => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
    for (const label of this.labelLayer.children) {
      const base = Number(label.dataset.y)
      label.removeAttribute('visibility')
      let free = false
      for (const step of [0, 1, -1, 2, -2]) {
        label.setAttribute('y', String(base + step * line))
        const box = label.getBBox?.()
        if (!box || !box.width) {
          free = true // not laid out (a hidden map): nothing to compare yet
          break
        }
        if (placed.every((other) => apart(other, box))) {
          placed.push({ x: box.x, y: box.y, width: box.width, height: box.height })
          free = true
          break
        }
      }
      if (!free) {
        label.setAttribute('y', String(base))
        label.setAttribute('visibility', 'hidden')
      }
    }
  }

  drawCells(cells, { k, classes, onSelect }) {
    this.cellLayer.replaceChildren()
    for (const feature of cells) {
      const p = feature.properties ?? {}
      const suppressed = p.suppressed || p.count === null
      const text = suppressed ? t('hexagon_suppressed_label', { k }) : t('hexagon_label', { n: p.count })
      const select = () => onSelect(feature, path)
      const path = s('path', {
        d: pathOf(feature.geometry), class: suppressed ? 'cell suppressed' : 'cell', tabindex: '0', role: 'button',
        'aria-label': text, 'data-cell': p.cell, 'data-class': suppressed ? null : p.class, fill: suppressed ? 'url(#hatch)' : colourOf(classes, p),
        'fill-opacity': suppressed ? '0.7' : String(CELL_OPACITY),
        onclick: select,
        onkeydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault()
            select()
          }
        },
      }, s('title', { text }))
      this.cellLayer.append(path)
    }
  }
}

/** The hexagons' opacity: high enough that a class's colour on the dark map is the legend's. */
const CELL_OPACITY = 0.9

function legend(tiles, hidden, classes) {
  const range = (c) => c.min === c.max ? formatNumber(c.min) : `${formatNumber(c.min)}–${formatNumber(c.max)}`
  return h('div', { class: 'legend' },
    classes?.length ? h('div', { class: 'legend-classes' },
      h('span', { class: 'legend-title', text: t('legend_classes') }),
      h('ul', {}, classes.map((c) => {
        const swatch = h('span', { class: 'legend-class', 'aria-hidden': 'true' })
        swatch.style.setProperty('--swatch', c.colour)
        swatch.style.setProperty('--swatch-opacity', String(CELL_OPACITY))
        return h('li', { 'data-min': c.min, 'data-max': c.max }, swatch, h('span', { text: range(c) }))
      }))) : null,
    h('div', { class: 'legend-area' }, h('span', { class: 'legend-swatch', 'aria-hidden': 'true' }), h('span', { text: t('legend_area') })),
    hidden ? h('div', { class: 'legend-area' }, h('span', { class: 'legend-swatch hidden', 'aria-hidden': 'true' }), h('span', { text: t('legend_hidden', { k: hidden }) })) : null,
    tiles?.attribution ? h('p', { class: 'attribution', text: t('tiles_attribution', { text: tiles.attribution }) }) : null)
}

/** The panel of a chosen hexagon: its figures and the area it lies in. */
function cellPanel(feature, { areas, total, k, onOpen, onClose }) {
  const p = feature.properties ?? {}
  const ring = polygons(feature.geometry)[0]?.[0] ?? []
  const middle = ring.length > 1 ? centre(ring) : null
  const home = middle ? [...areas].sort((a, b) => bboxArea(a) - bboxArea(b)).find((area) => contains(area.geometry, middle)) : null
  const suppressed = p.suppressed || p.count === null
  const name = home ? home.properties.name || home.properties.code : t('outside_areas')
  return h('section', { class: 'card cell-panel', 'aria-labelledby': 'cell-heading' },
    h('div', { class: 'panel-head' },
      h('h2', { id: 'cell-heading', tabindex: '-1', text: t('hexagon') }),
      h('button', { type: 'button', class: 'secondary small', text: t('close'), onclick: onClose })),
    h('p', { class: 'big', text: suppressed ? t('hexagon_suppressed_label', { k }) : t('observations_n', { n: formatNumber(p.count) }) }),
    suppressed ? null : h('p', { text: t('severity_sum', { n: formatNumber(p.score) }) }),
    suppressed || !total ? null : h('p', { text: t('share_of_map', { pct: formatShare(p.count / total) }) }),
    h('p', { text: t('in_area', { name }) }),
    home ? h('button', { type: 'button', class: 'primary', text: t('open_area'), onclick: () => onOpen(home.properties.code) }) : null)
}

export async function renderMap(main, ctx) {
  const config = await ctx.config()
  const map = new MapView(config)
  const summary = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' })
  const side = h('div', { class: 'map-detail' })
  const key = h('div')
  const empty = h('p', { class: 'card hint', hidden: true, text: t('map_nothing') })
  const tools = h('div', { class: 'map-tools' },
    h('button', { type: 'button', class: 'secondary small', 'aria-label': t('zoom_in'), title: t('zoom_in'), text: '+', onclick: () => map.zoom(1.5) }),
    h('button', { type: 'button', class: 'secondary small', 'aria-label': t('zoom_out'), title: t('zoom_out'), text: '−', onclick: () => map.zoom(1 / 1.5) }),
    h('button', { type: 'button', class: 'secondary small', text: t('zoom_reset'), onclick: () => map.fit() }))
  const keys = h('p', { id: 'map-keys', class: 'visually-hidden', text: `${t('zoom_in')}: +, ${t('zoom_out')}: −` })
  const box = h('div', { class: 'map-box' }, tools, map.svg, keys)
  const status = h('div')
  const open = (code) => ctx.navigate(`#area/${encodeURIComponent(code)}`)
  let areas = []
  let sequence = 0

  const load = async () => {
    const mine = (sequence += 1)
    status.replaceChildren()
    summary.textContent = t('loading')
    try {
      const [areaCollection, heat] = await Promise.all([ctx.areas(), api.get(`/api/v1/heatmap${filters.query({}, { withResolution: true })}`)])
      if (mine !== sequence) return
      areas = areaCollection.features ?? []
      const cells = (heat.features ?? []).filter((f) => polygons(f.geometry)[0]?.[0]?.length)
      const k = heat.suppression_k ?? 3
      const total = heat.total ?? null
      const first = !map.extent
      map.extent = extentOf(areas, cells) ?? map.extent
      empty.hidden = Boolean(map.extent)
      if (map.extent && first) {
        // The map takes the shape of what it shows, within limits, so a phone is not mostly empty.
        const [x0, y0, x1, y1] = map.extent
        const aspect = Math.max(0.6, Math.min(1.3, (y1 - y0) / Math.max(1, x1 - x0)))
        map.svg.style.setProperty('--map-aspect', String(1 / aspect))
      }
      box.hidden = !map.extent
      map.drawAreas(areas, open)
      map.drawCells(cells, {
        k,
        classes: heat.classes,
        onSelect: (feature, path) => {
          for (const other of map.cellLayer.querySelectorAll('.selected')) other.classList.remove('selected')
          path.classList.add('selected')
          side.replaceChildren(cellPanel(feature, {
            areas, total: cells.reduce((sum, f) => sum + (f.properties?.count ?? 0), 0), k, onOpen: open,
            onClose: () => {
              side.replaceChildren(h('p', { class: 'hint', text: t('map_hint') }))
              path.classList.remove('selected')
              path.focus()
            },
          }))
          if (window.matchMedia('(max-width: 900px)').matches) side.scrollIntoView({ block: 'nearest' })
        },
      })
      side.replaceChildren(h('p', { class: 'hint', text: t('map_hint') }))
      fitHeight()
      if (first && map.extent) requestAnimationFrame(() => map.fit())
      const parts = [heat.suppression_k != null
        ? t('map_partner', { total: formatNumber(heat.total ?? 0), k })
        : cells.length ? t('map_summary', { total: formatNumber(total), cells: cells.length }) : t('map_empty')]
      if (heat.without_position) parts.push(t('map_without_position', { n: heat.without_position }))
      if (heat.coarse_positions) parts.push(t('map_coarse_positions', { n: heat.coarse_positions }))
      if (heat.suppressed_cells) parts.push(t('map_suppressed', { n: heat.suppressed_cells, k }))
      fill(key, legend(config?.tiles, heat.suppressed_cells ? k : null, heat.classes))
      summary.textContent = parts.join(' ')
    } catch (error) {
      if (mine !== sequence) return
      if (error instanceof api.SessionError) throw error
      summary.textContent = ''
      status.replaceChildren(failure(error, load))
    }
  }

  // On a desktop the whole map fits on the screen below the filters, open or closed.
  const fitHeight = () => {
    if (!map.svg.isConnected || !window.matchMedia('(min-width: 901px)').matches) {
      map.svg.style.maxHeight = ''
      return
    }
    const top = map.svg.getBoundingClientRect().top + window.scrollY
    const height = `${Math.max(300, Math.floor(window.innerHeight - top - 16))}px`
    if (map.svg.style.maxHeight !== height) {
      map.svg.style.maxHeight = height
      if (map.view) map.setView(map.view)
    }
  }
  const controller = new AbortController()
  window.addEventListener('resize', () => (map.svg.isConnected ? fitHeight() : controller.abort()), { signal: controller.signal })
  main.addEventListener('toggle', () => (map.svg.isConnected ? requestAnimationFrame(fitHeight) : controller.abort()), { capture: true, signal: controller.signal })
  main.replaceChildren(h('section', { class: 'view map-view' },
    h('h1', { text: t('map_title') }),
    filters.filterBar(ctx.categories, () => ctx.guard(load()), { map: true }),
    status,
    h('div', { class: 'map-layout' },
      h('div', { class: 'map-main' }, box, empty),
      h('div', { class: 'map-side' }, summary, key, side))))
  await load()
}
