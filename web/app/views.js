// The screens: login, new observation, activity with its tally, outbox, and settings.

import * as db from './db.js'
import * as api from './api.js'
import { PositionPicker } from './position.js'
import * as photos from './photos.js'
import { t, label, formatTime, formatClock, formatDuration, getLanguage, setLanguage } from './i18n.js'

export const AGE_BANDS = ['under_13', '13_15', '16_17', '18_24', '25_plus', 'unknown']
export const GENDER_COLUMNS = ['girls', 'boys', 'gender_other', 'gender_unknown']
export const AGE_COLUMNS = ['age_under_13', 'age_13_15', 'age_16_17', 'age_18_24', 'age_25_plus', 'age_unknown']
// The most photos on one observation (the server's `photos.per_observation` by default).
const PHOTOS_PER_OBSERVATION = 5
const OBSERVATION_COLUMNS = ['category', 'severity', 'perceived_safety', 'people_count', 'age_band', 'note', 'lat', 'lon', 'accuracy_m', 'observed_at', 'needs_follow_up']

let unique = 0

/** Creates an element: `attrs` sets properties `on…` (listeners), `class`, `text` and attributes. */
export { stateOf }

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on')) node.addEventListener(key.slice(2).toLowerCase(), value)
    else if (key === 'class') node.className = value
    else if (key === 'text') node.textContent = value
    else if (key === 'value') node.value = value
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child)
  return node
}

function id(prefix) {
  unique += 1
  return `${prefix}-${unique}`
}

/** A group of large radio chips; `get()` returns the chosen value or null. */
function choices(name, legend, options, selected, { className = 'chips', hint = null, scale = null } = {}) {
  const group = h('fieldset', { class: `group ${className}` }, h('legend', { text: legend }))
  const list = h('div', { class: 'chip-list' })
  for (const option of options) {
    const input = h('input', { type: 'radio', name, value: option.value, class: 'visually-hidden' })
    input.checked = option.value === selected
    // A long single word would break mid-word in half the width: give it the whole row.
    const wide = option.label.split(/\s+/).some((word) => word.length >= 18)
    list.append(h('label', { class: wide ? 'chip wide' : 'chip' }, input, h('span', { text: option.label })))
  }
  group.append(list)
  if (scale) group.append(h('div', { class: 'scale-ends', 'aria-hidden': 'true' }, h('span', { text: `1 ${scale[0]}` }), h('span', { text: `5 ${scale[1]}` })))
  if (hint) group.append(h('p', { class: 'hint', text: hint }))
  const get = () => group.querySelector('input:checked')?.value ?? null
  return { node: group, get }
}

function stepper(labelText, value, { min = 0, onChange = null, name = null } = {}) {
  const inputId = id('step')
  const input = h('input', { id: inputId, type: 'number', inputmode: 'numeric', min, value: String(value), name })
  const set = (next) => {
    input.value = String(Math.max(min, next))
    minus.disabled = Number(input.value) <= min
    onChange?.(Number(input.value))
  }
  const minus = h('button', { type: 'button', class: 'step', 'aria-label': t('decrease', { what: labelText }), text: '−', onclick: () => set(Number(input.value || 0) - 1) })
  const plus = h('button', { type: 'button', class: 'step', 'aria-label': t('increase', { what: labelText }), text: '+', onclick: () => set(Number(input.value || 0) + 1) })
  minus.disabled = value <= min
  input.addEventListener('change', () => set(Math.floor(Number(input.value) || 0)))
  const node = h('div', { class: 'stepper-row' }, h('label', { for: inputId, text: labelText }), h('div', { class: 'stepper' }, minus, input, plus))
  return { node, get: () => Math.max(min, Math.floor(Number(input.value) || 0)), set }
}

function localInputValue(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000)
  return d.toISOString().slice(0, 16)
}

function fromLocalInput(value) {
  const ms = new Date(value).getTime()
  return Number.isFinite(ms) ? ms : null
}

function sortByLabel(entries) {
  return entries.filter((e) => e.active !== false).sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0) || label(a).localeCompare(label(b)))
}

// ---------------------------------------------------------------- login

export function renderLogin(main, ctx, { reason = null } = {}) {
  const status = h('p', { class: 'message', role: 'alert' })
  if (reason) status.textContent = reason
  const org = h('input', { id: 'login-org', name: 'organisation', autocomplete: 'organization', autocapitalize: 'none', required: true })
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', autocapitalize: 'none', required: true })
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })
  if (ctx.session?.organisation) org.value = ctx.session.organisation
  if (ctx.session?.me?.username) user.value = ctx.session.me.username
  const button = h('button', { type: 'submit', class: 'primary', text: t('log_in') })
  const form = h('form', { class: 'card login', novalidate: true },
    h('h2', { text: t('login_title') }),
    h('p', { class: 'hint', text: t('login_intro') }),
    h('label', { class: 'field', for: 'login-org', text: t('organisation') }), org,
    h('label', { class: 'field', for: 'login-user', text: t('username') }), user,
    h('label', { class: 'field', for: 'login-password', text: t('password') }), password,
    status, button)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (!org.value.trim() || !user.value.trim() || !password.value) {
      status.textContent = t('login_failed')
      return
    }
    button.disabled = true
    button.textContent = t('logging_in')
    status.textContent = ''
    try {
      await api.login(org.value, user.value, password.value)
      password.value = ''
      await ctx.loggedIn()
    } catch (error) {
      if (error instanceof api.NetworkError) status.textContent = t('login_offline')
      else if (error.status === 401) status.textContent = error.code === 'invalid_credentials' ? t('login_failed') : t('device_revoked')
      else if (error.status === 429) status.textContent = t('login_limited')
      else status.textContent = t('login_error', { detail: error.message })
      button.disabled = false
      button.textContent = t('log_in')
    }
  })
  main.replaceChildren(form)
}

// ---------------------------------------------------------------- observation

/** Brings the first field at fault into view, above the sticky Save bar, and focuses it. */
function showFault(field) {
  field.scrollIntoView({ block: 'center' })
  const control = field.querySelector('select, input:checked, input, button')
  control?.focus({ preventScroll: true })
}

export async function renderObservation(main, ctx, record = null) {
  const categories = sortByLabel(await db.all('categories'))
  if (record && !categories.some((c) => c.slug === record.category)) {
    categories.push({ slug: record.category, label_sv: record.category, label_en: record.category })
  }
  const category = choices('category', t('category'), categories.map((c) => ({ value: c.slug, label: label(c) })), record?.category, { className: 'chips categories' })
  const scale = [1, 2, 3, 4, 5].map((n) => ({ value: String(n), label: String(n) }))
  const severity = choices('severity', t('severity'), scale, record ? String(record.severity) : null, { className: 'chips scale', scale: [t('severity_low'), t('severity_high')] })
  const safety = choices('perceived_safety', t('safety'), scale, record ? String(record.perceived_safety) : null, { className: 'chips scale', scale: [t('safety_low'), t('safety_high')] })
  const people = stepper(t('people_count'), record?.people_count ?? 0, { name: 'people_count' })
  const age = choices('age_band', t('age_band'), AGE_BANDS.map((band) => ({ value: band, label: t(`age_${band}`) })), record?.age_band ?? null, { className: 'chips ages' })
  const followUp = h('input', { type: 'checkbox', id: id('follow'), name: 'needs_follow_up' })
  followUp.checked = Boolean(record?.needs_follow_up)
  const whenId = id('when')
  const when = h('input', { type: 'datetime-local', id: whenId, name: 'observed_at', value: localInputValue(record?.observed_at ?? Date.now()), max: localInputValue(Date.now() + 3_600_000) })
  const noteId = id('note')
  const hintId = id('note-hint')
  const note = h('textarea', { id: noteId, name: 'note', rows: 3, maxlength: 2000, 'aria-describedby': hintId })
  note.value = record?.note ?? ''
  const attached = record ? (await db.all('attachments')).filter((a) => a.observation_id === record.id).length : 0
  const taken = []
  const photoId = id('photo')
  const photoInput = h('input', { type: 'file', id: photoId, name: 'photo', accept: 'image/jpeg,image/png,image/webp,image/*', capture: 'environment', multiple: true, class: 'photo-input' })
  const photoList = h('ul', { class: 'photo-list' })
  const photoProblem = h('p', { class: 'message photo-problem', role: 'alert' })
  photoInput.addEventListener('change', async () => {
    photoProblem.textContent = ''
    for (const file of [...photoInput.files]) {
      if (attached + taken.length >= PHOTOS_PER_OBSERVATION) {
        photoProblem.textContent = t('photo_too_many', { n: PHOTOS_PER_OBSERVATION })
        break
      }
      try {
        const photo = await photos.prepare(file)
        taken.push(photo)
        const url = URL.createObjectURL(photo.blob)
        const item = h('li', { class: 'photo' },
          h('img', { src: url, alt: t('photo_alt', { n: taken.length }) }),
          h('button', { type: 'button', class: 'secondary', text: t('photo_remove'), onclick: () => {
            taken.splice(taken.indexOf(photo), 1)
            URL.revokeObjectURL(url)
            item.remove()
          } }))
        photoList.append(item)
      } catch {
        photoProblem.textContent = t('photo_unreadable')
      }
    }
    photoInput.value = ''
  })
  const photoBox = h('fieldset', { class: 'group photos' }, h('legend', { text: t('photos') }),
    h('label', { class: 'button secondary photo-add', for: photoId, text: t('photo_add') }), photoInput,
    h('p', { class: 'hint', text: t('photo_hint') }), photoList, photoProblem)
  const positionBox = h('div', { class: 'position' })
  const picker = new PositionPicker(positionBox, record ? { lat: record.lat, lon: record.lon, accuracy_m: record.accuracy_m } : null)
  const problem = h('p', { class: 'message', role: 'alert' })
  const save = h('button', { type: 'submit', class: 'primary', text: record ? t('save_resend') : t('save') })

  const fixBox = record?.sync_error ? h('div', { class: 'card fix' }, h('strong', { text: t('state_fix') }), ...reasonOf(record)) : null
  const form = h('form', { class: 'observation', novalidate: true },
    h('h2', { text: record ? t('edit_observation') : t('new_observation') }),
    fixBox,
    category.node, severity.node, safety.node,
    h('fieldset', { class: 'group' }, h('legend', { text: t('people_count') }), people.node, age.node),
    h('fieldset', { class: 'group' }, h('legend', { text: t('position') }), positionBox),
    h('div', { class: 'group' }, h('label', { class: 'field', for: noteId, text: t('note') }), note, h('p', { id: hintId, class: 'hint note-hint', text: t('note_hint') })),
    photoBox,
    h('label', { class: 'check' }, followUp, h('span', { text: t('follow_up') })),
    h('div', { class: 'group' }, h('label', { class: 'field', for: whenId, text: t('observed_at') }), when),
    h('div', { class: 'sticky-actions' }, problem, save))

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const position = picker.value()
    const missing = !category.get() ? 'missing_category' : !severity.get() ? 'missing_severity' : !safety.get() ? 'missing_safety' : !position ? 'missing_position' : null
    if (missing) {
      problem.textContent = t(missing)
      const fields = { missing_category: category.node, missing_severity: severity.node, missing_safety: safety.node, missing_position: positionBox }
      showFault(fields[missing])
      return
    }
    problem.textContent = ''
    const values = {
      category: category.get(),
      severity: Number(severity.get()),
      perceived_safety: Number(safety.get()),
      people_count: people.get(),
      age_band: age.get(),
      note: note.value.trim(),
      ...position,
      observed_at: fromLocalInput(when.value) ?? Date.now(),
      needs_follow_up: followUp.checked,
    }
    const changed = record ? OBSERVATION_COLUMNS.filter((column) => values[column] !== record[column]) : []
    const next = record
      ? { ...record, ...values, sync_error: null }
      : { id: api.uuidv7(), ...values, status: 'new', review_comment: null, redacted: false, sync_error: null }
    await db.saveRecord('observations', next, changed, taken)
    picker.stop()
    ctx.toast(navigator.onLine ? t('saved_online') : t('saved'))
    ctx.changed()
    if (record) {
      ctx.navigate('#outbox')
    } else {
      await renderObservation(main, ctx)
      window.scrollTo(0, 0)
    }
  })
  main.replaceChildren(form)
  ctx.onLeave(() => picker.stop())
}

// ---------------------------------------------------------------- activity

function countsOf(record) {
  const gender = GENDER_COLUMNS.reduce((sum, c) => sum + (record[c] ?? 0), 0)
  const age = AGE_COLUMNS.reduce((sum, c) => sum + (record[c] ?? 0), 0)
  return { gender, age }
}

function tallyGroup(title, columns, labels, record, onChange) {
  const box = h('fieldset', { class: 'group tally' }, h('legend', { text: title }))
  for (const column of columns) {
    const row = stepper(labels[column], record[column] ?? 0, { name: column, onChange: (value) => onChange(column, value) })
    row.node.classList.add('tally-row')
    box.append(row.node)
  }
  return box
}

export async function renderActivity(main, ctx) {
  const openId = await db.setting('open_shift')
  const open = openId ? await db.get('activity_logs', openId) : null
  const types = sortByLabel(await db.all('activity_types'))
  const units = (await db.all('units')).sort((a, b) => String(a.name).localeCompare(String(b.name)))
  const body = h('div', { class: 'activity' }, h('h2', { text: t('activity_title') }))
  if (open && open.ended_at == null) body.append(await runningShift(open, types, ctx, main))
  else body.append(await startForm(types, units, ctx, main))
  body.append(await recentActivities(ctx))
  main.replaceChildren(body)
}

async function startForm(types, units, ctx, main) {
  const lastType = await db.setting('last_activity_type')
  const type = choices('activity_type', t('activity_type'), types.map((entry) => ({ value: entry.slug, label: label(entry) })), lastType ?? types[0]?.slug)
  const unitId = id('unit')
  const mine = ctx.session?.me?.unit?.slug
  const unitSelect = h('select', { id: unitId, name: 'unit' })
  const unitList = units.length ? units : mine ? [{ slug: mine, name: ctx.session.me.unit.name }] : []
  for (const unit of unitList) unitSelect.append(new Option(unit.name ?? unit.slug, unit.slug, false, unit.slug === mine))
  const problem = h('p', { class: 'message', role: 'alert' })
  const form = h('form', { class: 'start', novalidate: true }, type.node,
    h('div', { class: 'group' }, h('label', { class: 'field', for: unitId, text: t('unit') }), unitSelect),
    problem,
    h('button', { type: 'submit', class: 'primary', text: t('start_shift') }))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (!type.get() || !unitSelect.value) {
      problem.textContent = t('missing_category')
      return
    }
    const record = {
      id: api.uuidv7(), activity_type: type.get(), unit: unitSelect.value, started_at: Date.now(), ended_at: null,
      lat: null, lon: null, area_code: null, note: '', redacted: false, sync_error: null,
      ...Object.fromEntries([...GENDER_COLUMNS, ...AGE_COLUMNS].map((c) => [c, 0])),
    }
    await db.saveRecord('activity_logs', record, [])
    await db.saveSetting('open_shift', record.id)
    await db.saveSetting('last_activity_type', record.activity_type)
    ctx.toast(t('shift_started'))
    ctx.changed(8000)
    renderActivity(main, ctx)
    navigator.geolocation?.getCurrentPosition(async (fix) => {
      const stored = await db.get('activity_logs', record.id)
      if (stored && stored.lat == null) {
        await db.saveRecord('activity_logs', { ...stored, lat: Number(fix.coords.latitude.toFixed(6)), lon: Number(fix.coords.longitude.toFixed(6)) }, ['lat', 'lon'])
      }
    }, () => {}, { maximumAge: 120_000, timeout: 20_000 })
  })
  return form
}

async function runningShift(open, types, ctx, main) {
  const type = types.find((entry) => entry.slug === open.activity_type)
  const record = { ...open }
  const total = h('p', { class: 'total', 'aria-live': 'polite' })
  const mismatch = h('div', { class: 'message mismatch', role: 'status' })
  const refresh = () => {
    const { gender, age } = countsOf(record)
    total.textContent = t('tally_total', { n: Math.max(gender, age) })
    mismatch.replaceChildren()
    if (gender !== age) {
      mismatch.append(h('p', { text: t('splits_differ', { g: gender, a: age }) }),
        h('button', { type: 'button', class: 'secondary', text: t('fill_unknown'), onclick: fillUnknown }))
    }
  }
  let saving = Promise.resolve()
  const onChange = (column, value) => {
    record[column] = value
    refresh()
    saving = saving.then(() => db.saveRecord('activity_logs', { ...record }, [column])).then(() => ctx.changed(8000))
  }
  const fillUnknown = async () => {
    const { gender, age } = countsOf(record)
    const column = gender < age ? 'gender_unknown' : 'age_unknown'
    record[column] += Math.abs(gender - age)
    await saving
    await db.saveRecord('activity_logs', { ...record }, [column])
    ctx.changed(8000)
    renderActivity(main, ctx)
  }
  const noteId = id('shift-note')
  const note = h('textarea', { id: noteId, rows: 2, maxlength: 2000, 'aria-describedby': 'shift-note-hint' })
  note.value = record.note ?? ''
  note.addEventListener('change', () => {
    record.note = note.value.trim()
    saving = saving.then(() => db.saveRecord('activity_logs', { ...record }, ['note'])).then(() => ctx.changed(8000))
  })
  const stop = h('button', { type: 'button', class: 'primary', text: t('stop_shift') })
  stop.addEventListener('click', async () => {
    const { gender, age } = countsOf(record)
    if (gender !== age) {
      mismatch.querySelector('button')?.focus()
      return
    }
    record.note = note.value.trim()
    record.ended_at = Math.max(Date.now(), record.started_at)
    await saving
    await db.saveRecord('activity_logs', { ...record }, ['ended_at', 'note'])
    await db.saveSetting('open_shift', null)
    ctx.toast(t('shift_stopped'))
    ctx.changed()
    renderActivity(main, ctx)
  })
  const labels = Object.fromEntries([...GENDER_COLUMNS, ...AGE_COLUMNS].map((c) => [c, t(c)]))
  const box = h('section', { class: 'shift', 'aria-label': t('tally') },
    h('p', { class: 'running' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t('shift_running', { type: label(type) || open.activity_type, time: formatClock(open.started_at) })),
    total,
    mismatch,
    tallyGroup(t('by_gender'), GENDER_COLUMNS, labels, record, onChange),
    tallyGroup(t('by_age'), AGE_COLUMNS, labels, record, onChange),
    h('div', { class: 'group' }, h('label', { class: 'field', for: noteId, text: t('note') }), note, h('p', { id: 'shift-note-hint', class: 'hint', text: t('note_hint') })),
    h('div', { class: 'sticky-actions' }, stop))
  refresh()
  return box
}

async function recentActivities(ctx) {
  const types = await db.all('activity_types')
  const list = (await db.all('activity_logs')).filter((r) => r.ended_at != null).sort((a, b) => b.started_at - a.started_at).slice(0, 5)
  const section = h('section', { class: 'recent' }, h('h3', { text: t('recent_activities') }))
  if (!list.length) section.append(h('p', { class: 'hint', text: t('no_activities') }))
  else section.append(h('ul', { class: 'records' }, ...list.map((record) => recordItem('activity_logs', record, { types }, ctx))))
  return section
}

export async function renderActivityEdit(main, ctx, record) {
  const types = sortByLabel(await db.all('activity_types'))
  const type = choices('activity_type', t('activity_type'), types.map((entry) => ({ value: entry.slug, label: label(entry) })), record.activity_type)
  const startId = id('start')
  const endId = id('end')
  const start = h('input', { id: startId, type: 'datetime-local', value: localInputValue(record.started_at) })
  const end = h('input', { id: endId, type: 'datetime-local', value: record.ended_at ? localInputValue(record.ended_at) : '' })
  const next = { ...record }
  const labels = Object.fromEntries([...GENDER_COLUMNS, ...AGE_COLUMNS].map((c) => [c, t(c)]))
  const problem = h('p', { class: 'message', role: 'alert' })
  const noteId = id('note')
  const note = h('textarea', { id: noteId, rows: 2, maxlength: 2000 })
  note.value = record.note ?? ''
  const form = h('form', { novalidate: true }, h('h2', { text: t('edit_activity') }),
    record.sync_error ? h('div', { class: 'card fix' }, h('strong', { text: t('state_fix') }), ...reasonOf(record)) : null,
    type.node,
    h('div', { class: 'group' }, h('label', { class: 'field', for: startId, text: t('started_at') }), start, h('label', { class: 'field', for: endId, text: t('ended_at') }), end),
    tallyGroup(t('by_gender'), GENDER_COLUMNS, labels, next, (c, v) => { next[c] = v }),
    tallyGroup(t('by_age'), AGE_COLUMNS, labels, next, (c, v) => { next[c] = v }),
    h('div', { class: 'group' }, h('label', { class: 'field', for: noteId, text: t('note') }), note),
    problem, h('div', { class: 'sticky-actions' }, h('button', { type: 'submit', class: 'primary', text: t('save_resend') })))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const { gender, age } = countsOf(next)
    if (gender !== age) {
      problem.textContent = t('splits_differ', { g: gender, a: age })
      return
    }
    next.activity_type = type.get() ?? record.activity_type
    next.started_at = fromLocalInput(start.value) ?? record.started_at
    next.ended_at = fromLocalInput(end.value)
    next.note = note.value.trim()
    const columns = ['activity_type', 'started_at', 'ended_at', 'note', ...GENDER_COLUMNS, ...AGE_COLUMNS].filter((c) => next[c] !== record[c])
    await db.saveRecord('activity_logs', { ...next, sync_error: null }, columns)
    ctx.changed()
    ctx.navigate('#outbox')
  })
  main.replaceChildren(form)
}

// ---------------------------------------------------------------- outbox

function stateOf(record) {
  if (db.isPending(record)) return 'waiting'
  return record.sync_error ? 'fix' : 'synced'
}

/** Why the server did not take a record: in the user's language where the code is known, and as the server said it. */
function reasonOf(record) {
  const known = (record._error_codes ?? []).filter((code) => t(`error_${code}`) !== `error_${code}`)
  if (!known.length) return [h('p', { class: 'reason', text: record.sync_error })]
  return [
    h('p', { class: 'reason', text: [...new Set(known.map((code) => t(`error_${code}`)))].join(' ') }),
    h('p', { class: 'server-reason', text: t('server_said', { text: record.sync_error }) }),
  ]
}

const STATE_ICON = { waiting: '…', synced: '✓', fix: '!' }

// ---------------------------------------------------------------- feedback

const FEEDBACK_SHOWN = 10

/** A feedback's area codes (a JSON array in a string), or none when it cannot be read. */
function areaCodesOf(feedback) {
  try {
    const codes = JSON.parse(feedback.area_codes ?? '[]')
    return Array.isArray(codes) ? codes.filter((code) => typeof code === 'string') : []
  } catch {
    return []
  }
}

/** The newest feedback on each area, by code. */
function latestByArea(feedback) {
  const latest = new Map()
  for (const item of feedback) {
    for (const code of areaCodesOf(item)) {
      const held = latest.get(code)
      if (!held || held.created_at < item.created_at) latest.set(code, item)
    }
  }
  return latest
}

/** What the coordinators said, newest first, the areas where this user reported first. */
function feedbackSection(feedback, areas, reportedIn) {
  if (!feedback.length) return null
  const names = new Map(areas.map((area) => [area.code, area.name]))
  const yours = (item) => areaCodesOf(item).some((code) => reportedIn.has(code))
  const sorted = [...feedback].sort((a, b) => Number(yours(b)) - Number(yours(a)) || b.created_at - a.created_at)
  const list = h('ul', { class: 'feedback-list' })
  for (const item of sorted.slice(0, FEEDBACK_SHOWN)) {
    const where = areaCodesOf(item).map((code) => names.get(code) ?? code).join(', ')
    const entry = h('li', { class: 'feedback', 'data-id': item.id })
    if (yours(item)) entry.append(h('span', { class: 'badge yours', text: t('feedback_yours') }))
    entry.append(
      h('p', { class: 'feedback-head' }, h('strong', { text: where }), ` · ${formatTime(item.created_at)}`),
      h('p', { class: 'feedback-body', text: item.body }))
    if (item.measure_title) entry.append(h('p', { class: 'record-detail', text: t('feedback_measure', { title: item.measure_title }) }))
    list.append(entry)
  }
  const section = h('section', { class: 'card feedback-section', 'aria-labelledby': 'feedback-title' },
    h('h3', { id: 'feedback-title', text: t('feedback_title') }),
    h('p', { class: 'hint', text: t('feedback_hint') }),
    list)
  if (sorted.length > FEEDBACK_SHOWN) section.append(h('p', { class: 'hint', text: t('feedback_more', { n: sorted.length - FEEDBACK_SHOWN }) }))
  return section
}

function recordItem(table, record, ref, ctx) {
  const state = stateOf(record)
  const isObservation = table === 'observations'
  const title = isObservation
    ? label(ref.categories?.find((c) => c.slug === record.category)) || record.category
    : label(ref.types?.find((c) => c.slug === record.activity_type)) || record.activity_type
  const when = isObservation ? formatTime(record.observed_at) : formatTime(record.started_at)
  const details = []
  if (isObservation) {
    details.push(`${t('severity')} ${record.severity} · ${t('safety_short')} ${record.perceived_safety}` + (record.people_count ? ` · ${t('people', { n: record.people_count })}` : ''))
  } else {
    const { gender } = countsOf(record)
    const length = record.ended_at ? formatDuration(record.ended_at - record.started_at) : t('ongoing')
    details.push(`${length} · ${t('people', { n: gender })}`)
  }
  const item = h('li', { class: `record state-${state}`, 'data-id': record.id },
    h('div', { class: 'record-head' },
      h('span', { class: 'kind', text: isObservation ? t('observation') : t('activity') }),
      h('span', { class: `badge ${state}` }, h('span', { 'aria-hidden': 'true', text: STATE_ICON[state] }), ` ${t(`state_${state}`)}`)),
    h('p', { class: 'record-title' }, h('strong', { text: title }), ` · ${when}`),
    h('p', { class: 'record-detail', text: details.join(' ') }))
  if (record.note) item.append(h('p', { class: 'record-note', text: record.note }))
  if (record.redacted) item.append(h('p', { class: 'hint redacted', text: t('redacted') }))
  if (isObservation && record.status && state === 'synced') {
    item.append(h('p', { class: 'record-detail', text: t('review_status', { status: t(`status_${record.status}`) }) }))
  }
  if (record.review_comment) item.append(h('p', { class: 'record-detail', text: t('review_comment', { text: record.review_comment }) }))
  const attachments = ref.attachments?.get(record.id) ?? []
  if (attachments.length) {
    const local = attachments.map((a) => ref.photos?.get(a.sha256)).filter(Boolean)
    const waiting = local.filter((photo) => !photo.uploaded).length
    const refused = attachments.filter((a) => a.sync_error).length + local.filter((photo) => photo.error && photo.error !== 'quota_exceeded').length
    const line = [t('photos_count', { n: attachments.length })]
    if (waiting) line.push(t('photos_waiting', { n: waiting }))
    if (refused) line.push(t('photos_refused', { n: refused }))
    item.append(h('p', { class: 'record-detail record-photos', text: line.join(' · ') }))
  }
  const feedback = record.area_code && ref.feedback?.get(record.area_code)
  if (feedback) {
    item.append(h('p', { class: 'record-feedback', text: t('feedback_on_record', { time: formatTime(feedback.created_at), text: feedback.body }) }))
  }
  if (state === 'fix') {
    item.append(...reasonOf(record))
    item.append(
      h('a', { class: 'button secondary', href: `#fix/${table}/${record.id}`, text: t('fix_it') }))
  }
  return item
}

export async function renderOutbox(main, ctx) {
  const [observations, activities, categories, types, feedback, areas, attachments, localPhotos] = await Promise.all([
    db.all('observations'), db.all('activity_logs'), db.all('categories'), db.all('activity_types'),
    db.all('feedback'), db.all('areas'), db.all('attachments'), db.all(db.PHOTOS),
  ])
  const entries = [
    ...observations.map((record) => ({ table: 'observations', record, at: record.observed_at })),
    ...activities.map((record) => ({ table: 'activity_logs', record, at: record.started_at })),
  ]
  const rank = { fix: 0, waiting: 1, synced: 2 }
  entries.sort((a, b) => rank[stateOf(a.record)] - rank[stateOf(b.record)] || b.at - a.at)
  const pending = entries.filter((e) => db.isPending(e.record)).length
  const toFix = entries.filter((e) => stateOf(e.record) === 'fix').length
  const lastSync = await db.setting('last_sync_at')
  const syncer = ctx.syncer
  const status = h('p', { class: 'sync-status', role: 'status' })
  if (!navigator.onLine) status.textContent = t('sync_offline')
  else if (syncer.lastError && syncer.nextAttemptAt) status.textContent = t('sync_failed', { detail: syncer.lastError === 'network' ? t('offline') : syncer.lastError, time: formatClock(syncer.nextAttemptAt) })
  else status.textContent = lastSync ? t('last_sync', { time: formatTime(lastSync) }) : t('never_synced')
  const button = h('button', { type: 'button', class: 'primary', text: syncer.running ? t('syncing') : t('sync_now'), onclick: () => syncer.syncNow() })
  button.disabled = syncer.running || !navigator.onLine
  const list = h('ul', { class: 'records' })
  const waitingPhotos = localPhotos.filter((photo) => !photo.uploaded).length
  const byObservation = new Map()
  for (const attachment of attachments) {
    if (!byObservation.has(attachment.observation_id)) byObservation.set(attachment.observation_id, [])
    byObservation.get(attachment.observation_id).push(attachment)
  }
  const ref = {
    categories, types, feedback: latestByArea(feedback),
    attachments: byObservation, photos: new Map(localPhotos.map((photo) => [photo.sha256, photo])),
  }
  for (const { table, record } of entries.slice(0, 200)) list.append(recordItem(table, record, ref, ctx))
  const reportedIn = new Set(entries.map((e) => e.record.area_code).filter(Boolean))
  main.replaceChildren(h('div', { class: 'outbox' },
    h('h2', { text: t('outbox_title') }),
    h('p', { class: 'pending-line', text: pending ? t('pending_some', { n: pending }) : toFix ? t('fix_some', { n: toFix }) : t('pending_none') }),
    ...[waitingPhotos ? h('p', { class: 'hint photos-pending', text: t('photos_pending', { n: waitingPhotos }) }) : null].filter(Boolean),
    status, button,
    ...[feedbackSection(feedback, areas, reportedIn)].filter(Boolean),
    entries.length ? list : h('p', { class: 'hint', text: t('no_records') })))
}

export async function renderFix(main, ctx, table, recordId) {
  const record = await db.get(table, recordId)
  if (!record) return ctx.navigate('#outbox')
  if (table === 'observations') return renderObservation(main, ctx, record)
  return renderActivityEdit(main, ctx, record)
}

// ---------------------------------------------------------------- more

export async function renderMore(main, ctx) {
  const session = ctx.session
  const language = choices('language', t('language'), [{ value: 'sv', label: 'Svenska' }, { value: 'en', label: 'English' }], getLanguage())
  language.node.addEventListener('change', async () => {
    setLanguage(language.get())
    await db.saveSetting('language', language.get())
    ctx.relabel()
  })
  const logout = h('button', { type: 'button', class: 'secondary danger', text: t('log_out') })
  logout.addEventListener('click', async () => {
    const pending = await db.pendingCount()
    if (pending && !window.confirm(t('log_out_pending', { n: pending }))) return
    await api.logout()
    ctx.loggedOut()
  })
  main.replaceChildren(h('div', { class: 'more' },
    h('h2', { text: t('more_title') }),
    language.node,
    h('div', { class: 'card' },
      h('p', { text: t('signed_in_as', { user: session?.me?.display_name || session?.me?.username || '', org: session?.me?.organisation?.name || session?.organisation || '' }) }),
      h('p', { class: 'hint', text: t('device', { id: session?.device_id ?? '' }) })),
    deviceLabel(ctx),
    logout))
}

/** The label this phone's user gives it, so a lost phone is easy to find on the devices page. */
function deviceLabel(ctx) {
  const device = ctx.session?.me?.device
  const inputId = id('device-label')
  const input = h('input', { id: inputId, name: 'device_label', type: 'text', maxlength: '200', autocomplete: 'off', placeholder: t('device_label_placeholder') })
  input.value = device?.label ?? ''
  const status = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' })
  const save = h('button', { type: 'submit', class: 'secondary', text: t('device_label_save') })
  const form = h('form', { class: 'card device-label' },
    h('label', { for: inputId, text: t('device_label') }),
    h('p', { class: 'hint', text: device?.platform ? t('device_label_hint_platform', { platform: device.platform }) : t('device_label_hint') }),
    input, save, status)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    save.disabled = true
    status.textContent = ''
    try {
      ctx.session = await api.labelDevice(input.value)
      input.value = ctx.session.me.device?.label ?? ''
      status.textContent = t('device_label_saved')
    } catch (error) {
      status.textContent = error instanceof api.SessionError ? t(error.kind === 'revoked' ? 'device_revoked' : 'session_expired')
        : error instanceof api.NetworkError ? t('device_label_offline') : error.message
    } finally {
      save.disabled = false
    }
  })
  return form
}
