// The review queue: observations by review status (new ones first), each with a status and a
// comment the reporter sees in the field app after the next sync.

import * as api from './api.js'
import { h, uid, failure, loading } from './dom.js'
import { t, label, formatTime } from './i18n.js'
import { photoStrip } from './photos.js'

export const STATUSES = ['new', 'reviewed', 'forwarded', 'closed']
const PAGE = 50

/** A card to review one observation; `photos` keeps the strip of the card it replaces. */
function observationCard(o, ctx, { onSaved, areaNames, unitNames, selection, photos = null }) {
  const byslug = new Map(ctx.categories.map((c) => [c.slug, c]))
  const category = label(byslug.get(o.category)) || o.category
  const headingId = uid('obs')
  const statusId = uid('status')
  const commentId = uid('comment')
  const hintId = uid('hint')
  const status = h('select', { id: statusId, name: 'status' }, STATUSES.map((s) => h('option', { value: s, text: t(`status_${s}`) })))
  status.value = o.status ?? 'new'
  const comment = h('textarea', { id: commentId, name: 'review_comment', rows: 2, maxlength: 2000, 'aria-describedby': hintId })
  comment.value = o.review_comment ?? ''
  const message = h('p', { class: 'message', role: 'alert' })
  const save = h('button', { type: 'submit', class: 'primary', text: t('save') })
  const facts = [
    t('severity_n', { n: o.severity }),
    t('safety_n', { n: o.perceived_safety }),
    o.people_count ? t('people_n', { n: o.people_count }) : null,
    o.age_band ? t('age_band', { band: t(`age_${o.age_band}`) }) : null,
  ].filter(Boolean)
  const form = h('form', { class: 'review-form' },
    h('div', { class: 'field' }, h('label', { for: statusId, text: t('review_status') }), status),
    h('div', { class: 'field grow' }, h('label', { for: commentId, text: t('review_comment') }), comment, h('p', { class: 'hint', id: hintId, text: t('review_comment_hint') })),
    h('div', { class: 'field actions' }, save),
    message)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    save.disabled = true
    save.textContent = t('saving')
    message.textContent = ''
    try {
      const updated = await api.patch(`/api/v1/observations/${encodeURIComponent(o.id)}`, { status: status.value, review_comment: comment.value })
      ctx.toast(t('saved_review', { status: t(`status_${updated.status}`) }))
      onSaved(updated, card)
    } catch (error) {
      if (error instanceof api.SessionError) return ctx.sessionEnded(error)
      message.textContent = error.message
    } finally {
      save.disabled = false
      save.textContent = t('save')
    }
  })
  const pickId = uid('pick')
  const pick = h('input', { type: 'checkbox', id: pickId, class: 'pick', 'aria-labelledby': `${pickId}-label ${headingId}` })
  pick.checked = selection.has(o.id)
  pick.addEventListener('change', () => selection.toggle(o.id, pick.checked))
  const unit = o.unit ? unitNames.get(o.unit) ?? o.unit : null
  const card = h('article', { class: 'card observation', 'aria-labelledby': headingId, 'data-id': o.id },
    h('div', { class: 'obs-head' },
      h('span', { class: 'pick-wrap' }, pick, h('label', { for: pickId, id: `${pickId}-label`, class: 'visually-hidden', text: t('select_one') })),
      h('h2', { id: headingId, tabindex: '-1', text: category }),
      h('span', { class: `status status-${o.status}`, text: t(`status_${o.status}`) })),
    h('p', { class: 'meta' },
      h('time', { datetime: new Date(o.observed_at).toISOString(), text: formatTime(o.observed_at) }),
      ` · ${o.area_code ? areaNames.get(o.area_code) ?? o.area_code : t('outside_areas')}`,
      unit ? ` · ${t('reported_by_unit', { unit })}` : '',
      ` · ${facts.join(' · ')}`),
    o.needs_follow_up ? h('p', { class: 'flag', text: t('follow_up') }) : null,
    h('p', { class: o.note ? 'note' : 'note muted', text: o.note || t('no_note') }),
    o.redacted ? h('p', { class: 'hint', text: t('redacted') }) : null,
    o.reviewed_at ? h('p', { class: 'hint', text: t('reviewed_by_at', { time: formatTime(o.reviewed_at) }) }) : null,
    photos ?? photoStrip(o.id, `${category}, ${formatTime(o.observed_at)}`, ctx),
    form)
  return card
}

/** The queue's filters, kept while the dashboard is open. */
const filters = { status: 'new', area: '', category: '', unit: '', from: '', to: '' }

/** A date input's day as the start of that day in this browser's time zone, for `from`/`to`. */
function dayStart(value, plusDays = 0) {
  const [y, m, d] = value.split('-').map(Number)
  return new Date(y, m - 1, d + plusDays).toISOString()
}

export async function renderReview(main, ctx) {
  const list = h('div', { class: 'observations', id: 'review-list' }, loading())
  const more = h('button', { type: 'button', class: 'secondary', text: t('load_more'), hidden: true })
  let next = null
  const [areas, units] = await Promise.all([
    ctx.areas().catch(() => ({ features: [] })),
    api.get('/api/v1/units').catch(() => []),
  ])
  const areaNames = new Map((areas.features ?? []).map((f) => [f.properties.code, f.properties.name || f.properties.code]))
  const unitList = Array.isArray(units) ? units : units.items ?? []
  const unitNames = new Map(unitList.map((u) => [u.slug, u.name || u.slug]))

  // The filters: status, area, category, reporting unit, period.
  const select = (key, labelText, options) => {
    const id = uid(key)
    const control = h('select', { id, name: key }, options.map(([value, text]) => h('option', { value, text })))
    control.value = filters[key]
    control.addEventListener('change', () => {
      filters[key] = control.value
      ctx.guard(load())
    })
    return h('div', { class: 'field' }, h('label', { for: id, text: labelText }), control)
  }
  const dateField = (key, labelText) => {
    const id = uid(key)
    const control = h('input', { id, name: key, type: 'date' })
    control.value = filters[key]
    control.addEventListener('change', () => {
      filters[key] = control.value
      ctx.guard(load())
    })
    return h('div', { class: 'field' }, h('label', { for: id, text: labelText }), control)
  }
  const byName = (a, b) => a[1].localeCompare(b[1], 'sv')
  const filterFields = h('div', { class: 'filters review-filters' },
    select('status', t('show_status'), [...STATUSES.map((s) => [s, t(`filter_${s}`)]), ['', t('status_any')]]),
    select('area', t('filter_area'), [['', t('all_areas')], ...[...areaNames.entries()].sort(byName)]),
    select('category', t('filter_category'), [['', t('all_categories')], ...ctx.categories.map((c) => [c.slug, label(c) || c.slug]).sort(byName)]),
    select('unit', t('filter_unit'), [['', t('all_units')], ...[...unitNames.entries()].sort(byName)]),
    dateField('from', t('filter_from')),
    dateField('to', t('filter_to')))
  // Open on a laptop; on a phone the queue comes first and the filters fold away, saying which
  // are set.
  const chosenCount = () => ['area', 'category', 'unit', 'from', 'to'].filter((key) => filters[key]).length
  const summary = h('summary', {})
  const describe = () => summary.replaceChildren(
    h('span', { class: 'summary-title', text: t('filters') }),
    h('span', { class: 'summary-chosen', text: [t(filters.status ? `filter_${filters.status}` : 'status_any'), chosenCount() ? t('filters_set', { n: chosenCount() }) : null].filter(Boolean).join(' · ') }))
  describe()
  filterFields.addEventListener('change', describe)
  const filterBar = h('details', { class: 'filter-box', open: !window.matchMedia('(max-width: 640px)').matches }, summary, filterFields)

  // The selection and the one review it gets.
  const chosen = new Set()
  const count = h('p', { class: 'bulk-count', role: 'status', 'aria-live': 'polite' })
  const allId = uid('all')
  const all = h('input', { type: 'checkbox', id: allId })
  const bulkStatusId = uid('bulk-status')
  const bulkStatus = h('select', { id: bulkStatusId }, [h('option', { value: '', text: t('bulk_keep_status') }), ...STATUSES.map((s) => h('option', { value: s, text: t(`status_${s}`) }))])
  bulkStatus.value = 'closed'
  const bulkCommentId = uid('bulk-comment')
  const bulkComment = h('input', { id: bulkCommentId, type: 'text', maxlength: '2000', placeholder: t('bulk_comment_placeholder') })
  const apply = h('button', { type: 'submit', class: 'primary' })
  const bulkMessage = h('p', { class: 'message', role: 'alert' })
  const cards = () => [...list.querySelectorAll('.observation')]
  const selection = {
    has: (id) => chosen.has(id),
    toggle: (id, on) => {
      if (on) chosen.add(id)
      else chosen.delete(id)
      showSelection()
    },
  }
  const showSelection = () => {
    const shown = cards()
    count.textContent = t('bulk_selected', { n: chosen.size, shown: shown.length })
    apply.textContent = t('bulk_apply', { n: chosen.size })
    apply.disabled = chosen.size === 0
    all.checked = shown.length > 0 && shown.every((card) => chosen.has(card.dataset.id))
    all.indeterminate = !all.checked && shown.some((card) => chosen.has(card.dataset.id))
  }
  all.addEventListener('change', () => {
    for (const card of cards()) {
      const box = card.querySelector('input.pick')
      box.checked = all.checked
      if (all.checked) chosen.add(card.dataset.id)
      else chosen.delete(card.dataset.id)
    }
    showSelection()
  })
  const bulk = h('form', { class: 'card bulk-review', 'aria-label': t('bulk_title') },
    h('div', { class: 'field check' }, all, h('label', { for: allId, text: t('select_all_shown') })),
    count,
    h('div', { class: 'field' }, h('label', { for: bulkStatusId, text: t('review_status') }), bulkStatus),
    h('div', { class: 'field grow' }, h('label', { for: bulkCommentId, text: t('review_comment') }), bulkComment),
    h('div', { class: 'field actions' }, apply),
    bulkMessage)
  bulk.addEventListener('submit', async (event) => {
    event.preventDefault()
    const body = { ids: [...chosen] }
    if (bulkStatus.value) body.status = bulkStatus.value
    if (bulkComment.value.trim()) body.review_comment = bulkComment.value
    bulkMessage.textContent = ''
    if (!body.status && !body.review_comment) {
      bulkMessage.textContent = t('bulk_nothing')
      return bulkStatus.focus()
    }
    apply.disabled = true
    try {
      const result = await api.post('/api/v1/observations/review', body)
      ctx.toast(t('bulk_done', { changed: result.changed, unchanged: result.unchanged }))
      chosen.clear()
      bulkComment.value = ''
      ctx.refreshCounts()
      await load()
      main.querySelector('h1')?.focus()
    } catch (error) {
      if (error instanceof api.SessionError) return ctx.sessionEnded(error)
      bulkMessage.textContent = error.message
    } finally {
      showSelection()
    }
  })

  const onSaved = (updated, card) => {
    ctx.refreshCounts()
    if (filters.status && updated.status !== filters.status) {
      // Out of this list now: move the focus to the next card (or the list) before removing it.
      const following = card.nextElementSibling ?? card.previousElementSibling
      card.remove()
      chosen.delete(updated.id)
      ;(following?.querySelector('h2') ?? main.querySelector('h1'))?.focus?.()
      if (!list.querySelector('.observation')) list.replaceChildren(h('p', { class: 'card hint', text: t('nothing_to_review') }))
    } else {
      // The same photos: fetching them again would be another (audited) view.
      const photos = card.querySelector('.photos')
      card.replaceWith(observationCard(updated, ctx, { onSaved, areaNames, unitNames, selection, photos }))
    }
    showSelection()
  }

  // Filters changed quickly start loads whose answers may come back in any order: only the last
  // one started may fill the list.
  let generation = 0
  const load = async (append = false) => {
    const mine = ++generation
    if (!append) {
      list.replaceChildren(loading())
      chosen.clear()
    }
    try {
      const params = new URLSearchParams({ limit: String(PAGE) })
      for (const key of ['status', 'area', 'category', 'unit']) if (filters[key]) params.set(key, filters[key])
      if (filters.from) params.set('from', dayStart(filters.from))
      if (filters.to) params.set('to', dayStart(filters.to, 1))
      if (append && next) params.set('after', next)
      const page = await api.get(`/api/v1/observations?${params}`)
      if (mine !== generation) return
      next = page.next
      if (!append) list.replaceChildren()
      for (const o of page.items) list.append(observationCard(o, ctx, { onSaved, areaNames, unitNames, selection }))
      if (!list.querySelector('.observation')) list.replaceChildren(h('p', { class: 'card hint', text: t('nothing_to_review') }))
      more.hidden = !next
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (mine !== generation) return
      list.replaceChildren(failure(error, () => ctx.guard(load())))
    }
    showSelection()
  }
  more.addEventListener('click', () => ctx.guard(load(true)))
  main.replaceChildren(h('section', { class: 'view review' },
    h('h1', { text: t('review_title') }),
    h('p', { class: 'hint', text: t('review_intro') }),
    filterBar,
    bulk,
    list,
    more))
  await load()
}
