// The two documents the law names, in the export view: a lägesbild (the picture, the areas
// clearly above the previous period, the coordinator's analysis, external sources) and an
// åtgärdsplan (the measures with who, when, effort and follow-up) for the chosen period. A draft
// opens in a new tab; approving stores a dated version that never changes, listed below with its
// HTML, CSV and XLSX.

import * as api from './api.js'
import { h, uid } from './dom.js'
import { t, formatTime, getLanguage } from './i18n.js'

function field(name, text, control, hint) {
  const id = uid(name)
  control.id = id
  control.name = name
  const hintNode = hint ? h('p', { class: 'hint', id: uid(`${name}-hint`), text: hint }) : null
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id)
  const error = h('p', { class: 'field-error', hidden: true, id: uid(`${name}-error`) })
  return { name, control, error, node: h('div', { class: 'field' }, h('label', { for: id, text }), control, hintNode, error) }
}

/**
 * The documents card. `period()` reads the export view's period; `run(what, task)` and
 * `download(what, path, fallback)` report progress as the other exports do; `open(task)` shows
 * a blob in a new tab opened at the click.
 */
export function documentsSection(ctx, { period, run, download, open }) {
  const kind = field('kind', t('doc_kind'), h('select', {},
    h('option', { value: 'lagesbild', text: t('doc_lagesbild') }),
    h('option', { value: 'atgardsplan', text: t('doc_atgardsplan') })))
  const analysis = field('analysis', t('doc_analysis'), h('textarea', { rows: '5', maxlength: '20000' }), t('doc_analysis_hint'))
  const partnerInput = field('partner_input', t('doc_partner_input'), h('textarea', { rows: '3', maxlength: '10000' }), t('doc_partner_input_hint'))
  const fields = [kind, analysis, partnerInput]
  const versions = h('div', { class: 'document-versions', 'aria-live': 'polite' })

  const body = () => ({
    kind: kind.control.value,
    period: period(),
    lang: getLanguage(),
    analysis: analysis.control.value,
    partner_input: partnerInput.control.value,
  })
  const showErrors = (problem) => {
    for (const f of fields) {
      f.error.hidden = true
      f.control.removeAttribute('aria-invalid')
    }
    for (const fault of problem?.errors ?? []) {
      const f = fields.find((candidate) => candidate.name === fault.field)
      if (!f) continue
      f.error.textContent = fault.message
      f.error.hidden = false
      f.control.setAttribute('aria-invalid', 'true')
    }
    return (problem?.errors ?? []).some((fault) => fields.some((f) => f.name === fault.field))
  }

  const list = async () => {
    const params = new URLSearchParams({ kind: kind.control.value, period: period() })
    const found = await api.get(`/api/v1/documents?${params}`)
    if (!found.length) {
      versions.replaceChildren(h('p', { class: 'hint', text: t('doc_no_versions') }))
      return
    }
    versions.replaceChildren(h('ul', { class: 'versions' }, found.map((doc) => {
      const name = `${doc.kind}-${doc.period}-v${doc.version}`
      return h('li', { 'data-document': doc.id, 'data-version': String(doc.version) },
        h('span', { text: t('doc_version_line', { version: doc.version, by: doc.approved_by_name, at: formatTime(doc.approved_at) }) }),
        h('span', { class: 'row' },
          h('button', { type: 'button', class: 'secondary', text: t('doc_open'), 'aria-label': t('doc_open_label', { version: doc.version }),
            onclick: () => open(async () => (await api.fetchFile(doc.files.html, `${name}.html`)).blob) }),
          h('button', { type: 'button', class: 'secondary', text: t('csv'), 'aria-label': t('doc_csv_label', { version: doc.version }),
            onclick: () => download(t('doc_title'), doc.files.csv, `${name}.csv`) }),
          h('button', { type: 'button', class: 'secondary', text: t('xlsx'), 'aria-label': t('doc_xlsx_label', { version: doc.version }),
            onclick: () => download(t('doc_title'), doc.files.xlsx, `${name}.xlsx`) })))
    })))
  }
  const refresh = () => list().catch((error) => {
    if (error instanceof api.SessionError) return ctx.sessionEnded(error)
    versions.replaceChildren(h('p', { class: 'problem', text: error.message }))
  })

  const preview = () => open(async () => {
    try {
      const response = await api.request('/api/v1/documents/preview', { method: 'POST', body: body() })
      showErrors(null)
      return response.blob()
    } catch (error) {
      if (showErrors(error.problem)) throw new Error(t('doc_fix_fields'))
      throw error
    }
  })
  const approve = () => run(t('doc_title'), async () => {
    if (!window.confirm(t('doc_approve_confirm', { period: period() }))) return t('doc_not_approved')
    try {
      const approved = await api.post('/api/v1/documents', body())
      showErrors(null)
      await refresh()
      return t('doc_approved', { version: approved.version })
    } catch (error) {
      if (showErrors(error.problem)) throw new Error(t('doc_fix_fields'))
      throw error
    }
  })

  kind.control.addEventListener('change', refresh)
  const id = uid('documents')
  const node = h('section', { class: 'card export documents', 'aria-labelledby': id },
    h('h2', { id, text: t('doc_title') }),
    h('p', { class: 'hint', text: t('doc_hint') }),
    fields.map((f) => f.node),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', text: t('doc_preview'), onclick: preview }),
      h('button', { type: 'button', class: 'primary', text: t('doc_approve'), onclick: approve })),
    h('h3', { text: t('doc_versions') }),
    versions)
  refresh()
  return { node, refresh }
}
