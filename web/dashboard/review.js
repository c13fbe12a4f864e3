// The review queue: observations by review status (new ones first), each with a status and a
// comment the reporter sees in the field app after the next sync.

import * as api from './api.js'
import { h, uid, failure, loading } from './dom.js'
import { t, label, formatTime } from './i18n.js'

export const STATUSES = ['new', 'reviewed', 'forwarded', 'closed']
const PAGE = 25

let shown = 'new'

function observationCard(o, ctx, { onSaved, areaNames }) {
  const byslug = new Map(ctx.categories.map((c) => [c.slug, c]))
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
  const card = h('article', { class: 'card observation', 'aria-labelledby': headingId, 'data-id': o.id },
    h('div', { class: 'obs-head' },
      h('h2', { id: headingId, tabindex: '-1', text: label(byslug.get(o.category)) || o.category }),
      h('span', { class: `status status-${o.status}`, text: t(`status_${o.status}`) })),
    h('p', { class: 'meta' },
      h('time', { datetime: new Date(o.observed_at).toISOString(), text: formatTime(o.observed_at) }),
      ` · ${o.area_code ? areaNames.get(o.area_code) ?? o.area_code : t('outside_areas')}`,
      ` · ${facts.join(' · ')}`),
    o.needs_follow_up ? h('p', { class: 'flag', text: t('follow_up') }) : null,
    h('p', { class: o.note ? 'note' : 'note muted', text: o.note || t('no_note') }),
    o.redacted ? h('p', { class: 'hint', text: t('redacted') }) : null,
    o.reviewed_at ? h('p', { class: 'hint', text: t('reviewed_by_at', { time: formatTime(o.reviewed_at) }) }) : null,
    form)
  return card
}

export async function renderReview(main, ctx) {
  const list = h('div', { class: 'observations', id: 'review-list' }, loading())
  const more = h('button', { type: 'button', class: 'secondary', text: t('load_more'), hidden: true })
  const filterId = uid('show')
  const filter = h('select', { id: filterId }, [...STATUSES.map((s) => h('option', { value: s, text: t(`filter_${s}`) })), h('option', { value: '', text: t('status_any') })])
  filter.value = shown
  let next = null
  const areas = await ctx.areas().catch(() => ({ features: [] }))
  const areaNames = new Map((areas.features ?? []).map((f) => [f.properties.code, f.properties.name || f.properties.code]))

  const onSaved = (updated, card) => {
    ctx.refreshCounts()
    if (shown && updated.status !== shown) {
      // Out of this list now: move the focus to the next card (or the list) before removing it.
      const following = card.nextElementSibling ?? card.previousElementSibling
      card.remove()
      ;(following?.querySelector('h2') ?? filter).focus?.()
      if (!list.querySelector('.observation')) list.replaceChildren(h('p', { class: 'card hint', text: t('nothing_to_review') }))
    } else {
      card.replaceWith(observationCard(updated, ctx, { onSaved, areaNames }))
    }
  }

  const load = async (append = false) => {
    if (!append) list.replaceChildren(loading())
    try {
      const params = new URLSearchParams({ limit: String(PAGE) })
      if (shown) params.set('status', shown)
      if (append && next) params.set('after', next)
      const page = await api.get(`/api/v1/observations?${params}`)
      next = page.next
      if (!append) list.replaceChildren()
      for (const o of page.items) list.append(observationCard(o, ctx, { onSaved, areaNames }))
      if (!list.querySelector('.observation')) list.replaceChildren(h('p', { class: 'card hint', text: t('nothing_to_review') }))
      more.hidden = !next
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      list.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  filter.addEventListener('change', () => {
    shown = filter.value
    ctx.guard(load())
  })
  more.addEventListener('click', () => ctx.guard(load(true)))
  main.replaceChildren(h('section', { class: 'view review' },
    h('h1', { text: t('review_title') }),
    h('p', { class: 'hint', text: t('review_intro') }),
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: filterId, text: t('show_status') }), filter)),
    list,
    more))
  await load()
}
