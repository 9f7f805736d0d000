// Active filters as removable chips.

import { h, replace } from '../dom.js'
import { describeFilter } from '../format.js'

export function renderChips (container, filters, { onRemove, onClear }) {
  const chips = filters.map((f) => {
    const desc = describeFilter(f)
    return h('span', { class: 'chip', 'data-testid': 'filter-chip', 'data-dimension': f[1] },
      h('span', { class: 'chip-text' }, desc),
      h('button', {
        type: 'button',
        class: 'chip-x',
        'aria-label': 'Remove filter: ' + desc,
        title: 'Remove filter',
        'data-testid': 'filter-chip-remove',
        on: { click: () => onRemove(f[1]) }
      }, '×'))
  })
  if (filters.length > 1) {
    chips.push(h('button', { type: 'button', class: 'link', 'data-testid': 'filter-clear', on: { click: onClear } }, 'Clear all'))
  }
  replace(container, chips)
  container.hidden = filters.length === 0
}
