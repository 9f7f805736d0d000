// Top bar: site switcher, current visitors, date range, comparison,
// export, theme toggle, logout.

import { h, replace, setText } from '../dom.js'
import { PRESETS, describeRange } from '../ranges.js'
import { formatNumber } from '../format.js'

export function createHeader (ctx) {
  // ctx: {share, onSite(domain), onPeriod(key), onCustom(from, to), onCompare(bool),
  //       onExport(), onTheme(), onLogout()}
  const siteSel = h('select', { class: 'site-select', 'aria-label': 'Site', 'data-testid': 'site-switcher', on: { change: () => ctx.onSite(siteSel.value) } })
  const siteName = h('span', { class: 'site-name', 'data-testid': 'site-name' })
  const currentValue = h('span', { class: 'current-value', 'data-testid': 'current-visitors-value' }, '—')
  const currentText = h('span', {}, ' current visitors')
  const current = h('span', { class: 'current', 'data-testid': 'current-visitors', title: 'Visitors in the last 5 minutes' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), currentValue, currentText)
  const periodSel = h('select', {
    'aria-label': 'Date range',
    'data-testid': 'period-select',
    on: { change: onPeriodChange }
  }, PRESETS.map((p) => h('option', { value: p.key }, p.label)))
  const from = h('input', { type: 'date', 'aria-label': 'From', 'data-testid': 'custom-from', required: true })
  const to = h('input', { type: 'date', 'aria-label': 'To', 'data-testid': 'custom-to', required: true })
  const customForm = h('form', { class: 'custom', hidden: true, 'data-testid': 'custom-range', on: { submit: onCustom } },
    from, h('span', { class: 'dash' }, '–'), to,
    h('button', { type: 'submit', class: 'btn small', 'data-testid': 'custom-apply' }, 'Apply'))
  const rangeLabel = h('span', { class: 'range-label', 'data-testid': 'range-label' })
  const compare = h('input', { type: 'checkbox', 'data-testid': 'compare-toggle', on: { change: () => ctx.onCompare(compare.checked) } })
  const compareLabel = h('label', { class: 'toggle', title: 'Compare with the previous period' }, compare, ' Compare')
  const themeBtn = h('button', { type: 'button', class: 'btn icon', 'data-testid': 'theme-toggle', on: { click: ctx.onTheme } })
  const exportBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'export-csv', title: 'Download CSV', on: { click: ctx.onExport } }, 'Export CSV')
  const logoutBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'logout', on: { click: ctx.onLogout } }, 'Log out')
  const chips = h('div', { class: 'chips', 'data-testid': 'filter-chips', hidden: true })

  const el = h('header', { class: 'top' },
    h('div', { class: 'topbar' },
      h('span', { class: 'brand' }, 'Tally'),
      ctx.share ? siteName : siteSel,
      current,
      h('span', { class: 'spacer' }),
      themeBtn,
      ctx.share ? null : logoutBtn),
    h('div', { class: 'controls' },
      chips,
      h('span', { class: 'spacer' }),
      h('span', { class: 'range' }, periodSel, rangeLabel),
      customForm,
      compareLabel,
      exportBtn))

  function onPeriodChange () {
    if (periodSel.value === 'custom') {
      customForm.hidden = false
      from.focus()
    } else {
      customForm.hidden = true
      ctx.onPeriod(periodSel.value)
    }
  }

  function onCustom (ev) {
    ev.preventDefault()
    if (from.value && to.value) ctx.onCustom(from.value, to.value)
  }

  let sitesKey = ''
  function sync ({ st, range, sites, site, today, theme }) {
    const key = JSON.stringify(sites.map((s) => s.domain))
    if (key !== sitesKey) {
      sitesKey = key
      replace(siteSel, sites.map((s) => h('option', { value: s.domain }, s.domain)))
    }
    siteSel.value = site.domain
    setText(siteName, site.domain)
    periodSel.value = st.period
    customForm.hidden = st.period !== 'custom'
    from.value = range.first || ''
    to.value = range.last || ''
    from.max = today
    to.max = today
    setText(rangeLabel, describeRange(range))
    compare.checked = st.compare
    compare.disabled = st.period === 'all'
    compareLabel.classList.toggle('disabled', st.period === 'all')
    setText(themeBtn, theme === 'dark' ? '☀' : '☾')
    themeBtn.setAttribute('title', theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme')
    themeBtn.setAttribute('aria-label', themeBtn.getAttribute('title'))
  }

  function setCurrent (n) {
    setText(currentValue, typeof n === 'number' ? formatNumber(n) : '—')
    setText(currentText, n === 1 ? ' current visitor' : ' current visitors')
    current.classList.toggle('live', typeof n === 'number')
  }

  return { el, chips, sync, setCurrent, exportBtn }
}
