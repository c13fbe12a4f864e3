// The action plan (åtgärdsplan), for coordinators and administrators: the measures with their
// delivered effort and effect, the problems they address, forms to add either, and the
// feedback (återkoppling) to field staff, which reaches their phones at their next sync. A measure's
// status is changed in place, against the version read, so two coordinators cannot overwrite
// each other unknowingly.

import * as api from './api.js'
import { h, s as svgNode, uid, failure, loading, tableWrap, td } from './dom.js'
import { t, has, label, formatNumber, formatChange, formatTime } from './i18n.js'

const MEASURE_STATUSES = ['planned', 'ongoing', 'done', 'stopped']
const SOURCES = ['picture', 'partner', 'youth_dialogue', 'field_staff', 'other']
const PROBLEM_STATUSES = ['open', 'monitoring', 'closed']

/** A labelled form field with an error line; `control` is an input, a select or a textarea. */
function field(name, text, control, hint) {
  const id = uid(name)
  control.id = id
  control.name = name
  const error = h('p', { class: 'field-error', id: uid(`${name}-error`), hidden: true })
  const hintNode = hint ? h('p', { class: 'hint', id: uid(`${name}-hint`), text: hint }) : null
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id)
  return { name, control, error, node: h('div', { class: 'field' }, h('label', { for: id, text }), control, hintNode, error) }
}

function select(options, { multiple = false, size } = {}) {
  return h('select', { multiple, size }, options.map(([value, text]) => h('option', { value, text })))
}

function chosen(control) {
  return [...control.selectedOptions].map((option) => option.value)
}

/** Shows the server's field errors next to their fields; answers whether any was shown. */
function showErrors(fields, problem) {
  for (const f of fields) {
    f.error.hidden = true
    f.control.removeAttribute('aria-invalid')
  }
  const faults = problem?.errors ?? []
  for (const fault of faults) {
    const name = fault.field.replace(/\[\d+\]$/, '').replace(/^effort\..*/, 'effort')
    const f = fields.find((candidate) => candidate.name === name)
    if (!f) continue
    f.error.textContent = has(`plan_error_${fault.code}`) ? t(`plan_error_${fault.code}`) : fault.message
    f.error.hidden = false
    f.control.setAttribute('aria-invalid', 'true')
    f.control.setAttribute('aria-describedby', [f.control.getAttribute('aria-describedby'), f.error.id].filter(Boolean).join(' '))
  }
  const first = fields.find((f) => !f.error.hidden)
  first?.control.focus()
  return Boolean(first)
}

function effectText(effect) {
  if (!effect) return t('none')
  if (effect.verdict === 'too_few_to_tell' || effect.verdict === 'not_started') return t(`plan_verdict_${effect.verdict}`)
  const [low, high] = effect.change_percent_interval
  return t('plan_effect_value', {
    verdict: t(`plan_verdict_${effect.verdict}`),
    change: formatChange(effect.change_percent),
    low: formatChange(low),
    high: formatChange(high),
  })
}

function effortText(effort) {
  if (!effort) return t('none')
  if (effort.planned_hours === null) return t('plan_delivered_hours', { hours: formatNumber(effort.delivered_hours, 1) })
  return t('plan_delivered_of_planned', {
    hours: formatNumber(effort.delivered_hours, 1),
    planned: formatNumber(effort.planned_hours, 1),
  })
}

export async function renderPlan(main, ctx) {
  if (api.session()?.me?.role === 'partner') return renderPartnerPlan(main, ctx)
  const content = h('div', {}, loading())
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('plan_title') }),
    h('p', { class: 'hint', text: t('plan_intro') }),
    content))

  let week = null // the weekly picture's week; last week until one is chosen
  let editing = null // the measure being changed in the form, if any
  let editingProblem = null // the problem being changed in its form, if any
  const load = async () => {
    content.replaceChildren(loading())
    try {
      const [weekly, measures, problems, units, types, areas, feedback] = await Promise.all([
        api.get(`/api/v1/picture/weekly${week ? `?week=${encodeURIComponent(week)}` : ''}`),
        api.get('/api/v1/measures'),
        api.get('/api/v1/problems'),
        api.get('/api/v1/units'),
        api.get('/api/v1/activity-types'),
        ctx.areas(),
        api.get('/api/v1/feedback'),
      ])
      const figures = await Promise.all(measures.map(async (measure) => {
        const [effort, effect] = await Promise.all([
          api.get(`/api/v1/measures/${measure.id}/effort`).catch(() => null),
          api.get(`/api/v1/measures/${measure.id}/effect`).catch(() => null),
        ])
        return { effort, effect }
      }))
      const typeList = Array.isArray(types) ? types : types.items ?? []
      const areaOptions = areas.features
        .map((feature) => feature.properties)
        .map((p) => [p.code, `${p.name} (${p.code})`])
      const categoryOptions = ctx.categories.filter((c) => c.active !== false).map((c) => [c.slug, label(c)])
      const unitOptions = units.map((unit) => [unit.slug, unit.name])
      const typeOptions = typeList.filter((c) => c.active !== false).map((c) => [c.slug, label(c)])
      const problemTitles = new Map(problems.map((p) => [p.id, p.title]))

      const chooseWeek = (value) => {
        week = value || null
        ctx.guard(load())
      }
      const edit = (measure) => {
        editing = measure
        ctx.guard(load()).then(() => document.getElementById('plan-new-measure')?.scrollIntoView())
      }
      const done = () => {
        editing = null
        editingProblem = null
        return load()
      }
      const editProblem = (problem) => {
        editingProblem = problem
        ctx.guard(load()).then(() => document.getElementById('plan-new-problem')?.scrollIntoView())
      }
      content.replaceChildren(
        weeklyCard(weekly, (slug) => label(ctx.categories.find((c) => c.slug === slug)) || slug, chooseWeek),
        measuresTable(measures, figures, { problemTitles, unitNames: new Map(units.map((u) => [u.slug, u.name])) }, load, ctx, edit),
        measureForm({ areaOptions, categoryOptions, unitOptions, typeOptions, problems }, done, ctx, editing),
        feedbackCard(feedback, { areaOptions, measures }, load, ctx),
        problemsTable(problems, editProblem),
        problemForm({ areaOptions, categoryOptions }, done, ctx, editingProblem))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      content.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  await load()
}

/** Last week's areas clearly above their usual level, for the EST meeting. */
function weeklyCard(weekly, categoryLabel, chooseWeek) {
  const flagged = weekly.areas.filter((row) => row.flagged)
  const weekId = uid('plan-week')
  const weekInput = h('input', { type: 'week', id: weekId, name: 'week', value: weekly.week })
  weekInput.addEventListener('change', () => chooseWeek(weekInput.value))
  const section = h('section', { class: 'card', 'aria-labelledby': 'plan-weekly', 'data-week': weekly.week },
    h('h2', { id: 'plan-weekly', text: t('plan_weekly_title', { week: weekly.week }) }),
    h('div', { class: 'field inline' }, h('label', { for: weekId, text: t('plan_weekly_choose') }), weekInput),
    h('p', { class: 'hint', text: t('plan_weekly_test', { from: weekly.baseline.from, to: weekly.baseline.to }) }))
  if (!flagged.length) {
    section.append(h('p', { 'data-flagged': '0', text: t('plan_weekly_none') }))
    return section
  }
  section.append(h('ul', { class: 'weekly', 'data-flagged': String(flagged.length) }, flagged.map((row) => h('li', { 'data-area': row.area },
    h('strong', { text: `${row.name} (${row.area})` }),
    ` ${t('plan_weekly_row', { count: formatNumber(row.last_week), usual: formatNumber(row.baseline_mean, 1) })}`,
    row.categories.length ? h('span', { class: 'hint', text: ` ${row.categories.slice(0, 3).map((c) => categoryLabel(c.category)).join(', ')}` }) : null,
    h('p', { class: 'hint', text: row.measures.length
      ? t('plan_weekly_measures', { measures: row.measures.map((m) => m.title).join(', ') })
      : t('plan_weekly_no_measures') })))))
  return section
}

/** Delivered hours week by week as bars, the planned hours as a line over them. */
function weeksChart(effort) {
  const weeks = effort?.weeks ?? []
  if (!weeks.length) return null
  const width = 320
  const height = 70
  const max = Math.max(1, ...weeks.map((w) => Math.max(w.delivered_hours, w.planned_hours ?? 0)))
  const slot = width / weeks.length
  const y = (hours) => height - 4 - ((height - 8) * hours) / max
  const label = t('plan_weeks_chart', {
    weeks: weeks.length, first: weeks[0].week, last: weeks[weeks.length - 1].week,
    delivered: formatNumber(effort.delivered_hours, 1),
    planned: effort.planned_hours === null ? '–' : formatNumber(effort.planned_hours, 1),
  })
  const chart = svgNode('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart weeks', role: 'img', 'aria-label': label })
  weeks.forEach((w, i) => {
    chart.append(svgNode('rect', { x: i * slot + slot * 0.15, y: y(w.delivered_hours), width: Math.max(1, slot * 0.7), height: height - 4 - y(w.delivered_hours), fill: '#ffd33d' }))
  })
  if (weeks.some((w) => w.planned_hours !== null)) {
    const points = weeks.map((w, i) => `${i * slot + slot / 2},${y(w.planned_hours ?? 0)}`).join(' ')
    chart.append(svgNode('polyline', { points, fill: 'none', stroke: '#58a6ff', 'stroke-width': 2 }))
  }
  return h('details', { class: 'weeks' }, h('summary', { text: t('plan_weeks') }), chart, h('p', { class: 'hint', text: t('plan_weeks_legend') }))
}

/** A measure's status as a choice of `statuses`, saved against the version read, then `reload`. */
function statusSelect(measure, statuses, reload, ctx) {
  const status = select(statuses.map((s) => [s, t(`plan_status_${s}`)]))
  status.value = measure.status
  status.setAttribute('aria-label', t('plan_status_of', { title: measure.title }))
  status.addEventListener('change', () => ctx.guard((async () => {
    try {
      await api.patch(`/api/v1/measures/${measure.id}`, { status: status.value, version: measure.version })
      ctx.toast(t('plan_status_saved'))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      ctx.toast(error.problem?.code === 'version_conflict' ? t('plan_version_conflict') : error.message)
    }
    await reload()
  })()))
  return status
}

function measuresTable(measures, figures, { problemTitles, unitNames }, reload, ctx, edit) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'plan-measures' },
    h('h2', { id: 'plan-measures', text: t('plan_measures') }))
  if (!measures.length) {
    section.append(h('p', { class: 'hint', text: t('plan_no_measures') }))
    return section
  }
  const columns = ['plan_measure', 'plan_responsible', 'plan_areas', 'plan_dates', 'plan_status', 'plan_effort', 'plan_effect']
  const rows = measures.map((measure, index) => {
    const status = statusSelect(measure, MEASURE_STATUSES, reload, ctx)
    const { effort, effect } = figures[index]
    const addresses = measure.problems.map((id) => problemTitles.get(id)).filter(Boolean)
    return h('tr', { 'data-measure': measure.id },
      td(t('plan_measure'), h('div', {},
        h('strong', { text: measure.title }),
        measure.decision ? h('p', { class: 'hint', text: measure.decision }) : null,
        addresses.length ? h('p', { class: 'hint', text: t('plan_addresses', { problems: addresses.join(', ') }) }) : null,
        h('button', { type: 'button', class: 'secondary small', text: t('plan_edit'), 'aria-label': t('plan_edit_label', { title: measure.title }), onclick: () => edit(measure) }))),
      td(t('plan_responsible'), unitNames.get(measure.responsible_unit) ?? measure.responsible_unit),
      td(t('plan_areas'), measure.areas.join(', ')),
      td(t('plan_dates'), measure.planned_end ? `${measure.planned_start} – ${measure.planned_end}` : t('plan_from', { date: measure.planned_start })),
      td(t('plan_status'), status),
      td(t('plan_effort'), h('div', {}, h('span', { text: effortText(effort) }), weeksChart(effort)), { 'data-effort': '' }),
      td(t('plan_effect'), effectText(effect), { 'data-effect': effect?.verdict ?? '' }))
  })
  section.append(tableWrap(t('plan_measures'), h('table', {},
    h('thead', {}, h('tr', {}, columns.map((key) => h('th', { scope: 'col', text: t(key) })))),
    h('tbody', {}, rows)), { stack: true }))
  return section
}

function problemsTable(problems, edit) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'plan-problems' },
    h('h2', { id: 'plan-problems', text: t('plan_problems') }))
  if (!problems.length) {
    section.append(h('p', { class: 'hint', text: t('plan_no_problems') }))
    return section
  }
  const columns = ['plan_problem', 'plan_source', 'plan_areas', 'plan_status', 'plan_change']
  section.append(tableWrap(t('plan_problems'), h('table', {},
    h('thead', {}, h('tr', {}, columns.map((key) => h('th', { scope: 'col', text: t(key) })))),
    h('tbody', {}, problems.map((problem) => h('tr', { 'data-problem': problem.id },
      td(t('plan_problem'), h('div', {}, h('strong', { text: problem.title }),
        problem.description ? h('p', { class: 'hint', text: problem.description }) : null)),
      td(t('plan_source'), t(`plan_source_${problem.source}`)),
      td(t('plan_areas'), problem.areas.join(', ')),
      td(t('plan_status'), t(`plan_problem_status_${problem.status}`)),
      td(t('plan_change'), h('button', { type: 'button', class: 'secondary small', text: t('plan_edit'), 'aria-label': t('plan_edit_label', { title: problem.title }), onclick: () => edit(problem) })))))), { stack: true }))
  return section
}

/** Chooses `values` in a select (several for a multiple one). */
function choose(control, values) {
  const wanted = new Set(Array.isArray(values) ? values : [values])
  for (const option of control.options) option.selected = wanted.has(option.value)
}

/** The form for a new measure, or for changing `existing` (sent against the version read). */
function measureForm({ areaOptions, categoryOptions, unitOptions, typeOptions, problems }, reload, ctx, existing = null) {
  const kind = select([['weekly_hours', t('plan_effort_weekly')], ['one_off', t('plan_effort_one_off')]])
  const fields = [
    field('title', t('plan_field_title'), h('input', { type: 'text', maxlength: '120' })),
    field('responsible_unit', t('plan_responsible'), select(unitOptions)),
    field('areas', t('plan_areas'), select(areaOptions, { multiple: true, size: 5 }), t('plan_multiple_hint')),
    field('problems', t('plan_field_problems'), select(problems.map((p) => [p.id, p.title]), { multiple: true, size: 3 })),
    field('categories', t('plan_field_categories'), select(categoryOptions, { multiple: true, size: 5 })),
    field('activity_types', t('plan_field_activity_types'), select(typeOptions, { multiple: true, size: 4 }), t('plan_activity_types_hint')),
    field('shared_with', t('plan_field_shared_with'), select(unitOptions, { multiple: true, size: 4 }), t('plan_shared_with_hint')),
    field('planned_start', t('plan_field_start'), h('input', { type: 'date' })),
    field('planned_end', t('plan_field_end'), h('input', { type: 'date' })),
    field('effort', t('plan_field_effort'), kind),
    field('effort_amount', t('plan_field_effort_amount'), h('input', { type: 'text' }), t('plan_effort_amount_hint')),
    field('decision', t('plan_field_decision'), h('input', { type: 'text', maxlength: '200' })),
  ]
  const byName = (name) => fields.find((f) => f.name === name).control
  if (existing) {
    byName('title').value = existing.title
    for (const name of ['responsible_unit', 'areas', 'problems', 'categories', 'activity_types', 'shared_with']) choose(byName(name), existing[name])
    byName('planned_start').value = existing.planned_start
    byName('planned_end').value = existing.planned_end ?? ''
    kind.value = existing.effort.kind
    byName('effort_amount').value = existing.effort.kind === 'weekly_hours' ? String(existing.effort.hours) : existing.effort.description
    byName('decision').value = existing.decision
  }
  const submit = async (event) => {
    event.preventDefault()
    const amount = byName('effort_amount').value.trim()
    const effort = kind.value === 'weekly_hours'
      ? { kind: 'weekly_hours', hours: Number(amount.replace(',', '.')) || 0 }
      : { kind: 'one_off', description: amount }
    const body = {
      title: byName('title').value,
      responsible_unit: byName('responsible_unit').value,
      areas: chosen(byName('areas')),
      problems: chosen(byName('problems')),
      categories: chosen(byName('categories')),
      activity_types: chosen(byName('activity_types')),
      shared_with: chosen(byName('shared_with')),
      planned_start: byName('planned_start').value,
      planned_end: byName('planned_end').value || null,
      effort,
      decision: byName('decision').value,
    }
    try {
      if (existing) {
        await api.patch(`/api/v1/measures/${existing.id}`, { ...body, version: existing.version })
        ctx.toast(t('plan_measure_changed'))
      } else {
        await api.post('/api/v1/measures', body)
        ctx.toast(t('plan_measure_saved'))
      }
      await reload()
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (error.problem?.code === 'version_conflict') {
        ctx.toast(t('plan_version_conflict'))
        return
      }
      const problem = error.problem
      if (problem?.errors) {
        problem.errors = problem.errors.map((e) => (e.field.startsWith('effort.') ? { ...e, field: 'effort_amount' } : e))
      }
      if (!showErrors(fields, problem)) ctx.toast(error.message)
    }
  }
  const cancel = existing ? h('button', { type: 'button', class: 'secondary', text: t('plan_cancel_edit'), onclick: () => ctx.guard(reload()) }) : null
  return h('form', { class: 'card plan-form', novalidate: true, onsubmit: (event) => ctx.guard(submit(event)), 'aria-labelledby': 'plan-new-measure', 'data-editing': existing?.id ?? '' },
    h('h2', { id: 'plan-new-measure', text: existing ? t('plan_edit_measure', { title: existing.title }) : t('plan_new_measure') }),
    fields.map((f) => f.node),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: existing ? t('plan_save_measure') : t('plan_add_measure') }), cancel))
}

/** The form for a new problem, or for changing `existing` (its status too). */
function problemForm({ areaOptions, categoryOptions }, reload, ctx, existing = null) {
  const afterDark = h('input', { type: 'checkbox' })
  const fields = [
    field('title', t('plan_field_title'), h('input', { type: 'text', maxlength: '120' })),
    field('description', t('plan_field_description'), h('textarea', { rows: '3', maxlength: '4000' })),
    field('source', t('plan_source'), select(SOURCES.map((s) => [s, t(`plan_source_${s}`)]))),
    field('areas', t('plan_areas'), select(areaOptions, { multiple: true, size: 5 }), t('plan_multiple_hint')),
    field('categories', t('plan_field_categories'), select(categoryOptions, { multiple: true, size: 5 })),
  ]
  if (existing) fields.push(field('status', t('plan_status'), select(PROBLEM_STATUSES.map((s) => [s, t(`plan_problem_status_${s}`)]))))
  const byName = (name) => fields.find((f) => f.name === name).control
  if (existing) {
    byName('title').value = existing.title
    byName('description').value = existing.description
    choose(byName('source'), existing.source)
    choose(byName('areas'), existing.areas)
    choose(byName('categories'), existing.categories)
    choose(byName('status'), existing.status)
    afterDark.checked = Boolean(existing.time_window?.after_dark)
  }
  const submit = async (event) => {
    event.preventDefault()
    const body = {
      title: byName('title').value,
      description: byName('description').value,
      source: byName('source').value,
      areas: chosen(byName('areas')),
      categories: chosen(byName('categories')),
      time_window: { ...(existing?.time_window ?? {}), after_dark: afterDark.checked },
    }
    try {
      if (existing) {
        await api.patch(`/api/v1/problems/${existing.id}`, { ...body, status: byName('status').value, version: existing.version })
        ctx.toast(t('plan_problem_changed'))
      } else {
        await api.post('/api/v1/problems', body)
        ctx.toast(t('plan_problem_saved'))
      }
      await reload()
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (error.problem?.code === 'version_conflict') {
        ctx.toast(t('plan_version_conflict'))
        return
      }
      if (!showErrors(fields, error.problem)) ctx.toast(error.message)
    }
  }
  const darkId = uid('after-dark')
  afterDark.id = darkId
  const cancel = existing ? h('button', { type: 'button', class: 'secondary', text: t('plan_cancel_edit'), onclick: () => ctx.guard(reload()) }) : null
  return h('form', { class: 'card plan-form', novalidate: true, onsubmit: (event) => ctx.guard(submit(event)), 'aria-labelledby': 'plan-new-problem', 'data-editing': existing?.id ?? '' },
    h('h2', { id: 'plan-new-problem', text: existing ? t('plan_edit_problem', { title: existing.title }) : t('plan_new_problem') }),
    fields.map((f) => f.node),
    h('div', { class: 'field check' }, afterDark, h('label', { for: darkId, text: t('plan_after_dark') })),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: existing ? t('plan_save_problem') : t('plan_add_problem') }), cancel))
}

/** The feedback to field staff: what was said, withdrawn on request, and a form for more. */
function feedbackCard(feedback, { areaOptions, measures }, reload, ctx) {
  const names = new Map(areaOptions)
  const section = h('section', { class: 'card', 'aria-labelledby': 'plan-feedback' },
    h('h2', { id: 'plan-feedback', text: t('feedback_title') }),
    h('p', { class: 'hint', text: t('feedback_intro') }))
  if (!feedback.length) section.append(h('p', { class: 'hint', text: t('feedback_none') }))
  const list = h('ul', { class: 'feedback-list' })
  for (const item of feedback) {
    const withdraw = h('button', { type: 'button', class: 'secondary', text: t('feedback_withdraw') })
    withdraw.setAttribute('aria-label', t('feedback_withdraw_label', { text: item.body.slice(0, 40) }))
    withdraw.addEventListener('click', () => ctx.guard((async () => {
      if (!window.confirm(t('feedback_withdraw_confirm'))) return
      await api.remove(`/api/v1/feedback/${item.id}`)
      ctx.toast(t('feedback_withdrawn'))
      await reload()
    })()))
    const about = [item.areas.map((code) => names.get(code) ?? code).join(', ')]
    if (item.measure_title) about.push(t('feedback_on_measure', { title: item.measure_title }))
    list.append(h('li', { 'data-feedback': item.id },
      h('p', { class: 'feedback-body', text: item.body }),
      h('p', { class: 'hint', text: `${about.join(' · ')} · ${formatTime(item.created_at)}` }),
      withdraw))
  }
  if (feedback.length) section.append(list)

  const fields = [
    field('body', t('feedback_field_body'), h('textarea', { rows: '3', maxlength: '1000' }), t('feedback_body_hint')),
    field('areas', t('plan_areas'), select(areaOptions, { multiple: true, size: 5 }), t('feedback_areas_hint')),
    field('measure', t('feedback_field_measure'), select([['', t('feedback_no_measure')], ...measures.map((m) => [m.id, m.title])])),
  ]
  const byName = (name) => fields.find((f) => f.name === name).control
  const submit = async (event) => {
    event.preventDefault()
    const body = { body: byName('body').value, areas: chosen(byName('areas')), measure: byName('measure').value || null }
    try {
      await api.post('/api/v1/feedback', body)
      ctx.toast(t('feedback_saved'))
      await reload()
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (!showErrors(fields, error.problem)) ctx.toast(error.message)
    }
  }
  section.append(h('form', { class: 'plan-form', novalidate: true, onsubmit: (event) => ctx.guard(submit(event)), 'aria-labelledby': 'plan-new-feedback' },
    h('h3', { id: 'plan-new-feedback', text: t('feedback_new') }),
    fields.map((f) => f.node),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: t('feedback_send') }))))
  return section
}

/**
 * A partner's view: the measures shared with their unit or carried out by it, without the
 * problems behind them; their own they mark ongoing or done, against the version read.
 */
async function renderPartnerPlan(main, ctx) {
  const content = h('div', {}, loading())
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('plan_partner_title') }),
    h('p', { class: 'hint', text: t('plan_partner_intro') }),
    content))
  const unit = api.session()?.me?.unit
  const load = async () => {
    content.replaceChildren(loading())
    try {
      const measures = await api.get('/api/v1/measures')
      if (!measures.length) {
        content.replaceChildren(h('p', { class: 'hint', text: t('plan_partner_none') }))
        return
      }
      const effects = await Promise.all(measures.map((measure) => api.get(`/api/v1/measures/${measure.id}/effect`).catch(() => null)))
      const columns = ['plan_measure', 'plan_responsible', 'plan_areas', 'plan_dates', 'plan_status', 'plan_effect']
      const rows = measures.map((measure, index) => {
        const own = measure.responsible_unit === unit?.slug
        let status = t(`plan_status_${measure.status}`)
        if (own) {
          status = statusSelect(measure, [...new Set([measure.status, 'ongoing', 'done'])], load, ctx)
        }
        return h('tr', { 'data-measure': measure.id, 'data-own': own ? 'true' : 'false' },
          td(t('plan_measure'), h('div', {},
            h('strong', { text: measure.title }),
            measure.description ? h('p', { class: 'hint', text: measure.description }) : null)),
          td(t('plan_responsible'), own ? (unit?.name ?? measure.responsible_unit) : measure.responsible_unit),
          td(t('plan_areas'), measure.areas.join(', ')),
          td(t('plan_dates'), measure.planned_end ? `${measure.planned_start} – ${measure.planned_end}` : t('plan_from', { date: measure.planned_start })),
          td(t('plan_status'), status),
          td(t('plan_effect'), h('div', {},
            h('span', { text: effectText(effects[index]) }),
            effects[index]?.after?.tertials ? h('p', { class: 'hint', text: t('plan_partner_effect_window', { before: effects[index].before.tertials.join(', '), after: effects[index].after.tertials.join(', ') }) }) : null),
          { 'data-effect': effects[index]?.verdict ?? '' }))
      })
      content.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'plan-partner-measures' },
        h('h2', { id: 'plan-partner-measures', text: t('plan_measures') }),
        tableWrap(t('plan_measures'), h('table', {},
          h('thead', {}, h('tr', {}, columns.map((key) => h('th', { scope: 'col', text: t(key) })))),
          h('tbody', {}, rows)), { stack: true })))
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      content.replaceChildren(failure(error, () => ctx.guard(load())))
    }
  }
  await load()
}
