import { matchesFlowFilter, parseFlowFilter, type FlowFilter } from '../../src/admin/flow-filter.js';
import type { FlowSummary } from '../../src/admin/flow-view.js';
import { byId } from './dom.js';
import { flowRow } from './flow-row.js';
import type { FlowStore } from './flow-store.js';

/** Rows kept in the table; older matching flows stay in the store and come back with a filter. */
const MAX_ROWS = 500;

export interface FlowsView {
  /** Applies a filter text as if typed. */
  setFilter(text: string): void;
}

/**
 * The live flow table: newest first, a filter box (see flow-filter.ts for the language),
 * pause (rows wait, counted) and clear (this tab forgets what it has seen).
 */
export const mountFlowsView = (store: FlowStore, select: (id: string) => void): FlowsView => {
  const tbody = byId<HTMLTableElement>('flows').tBodies[0] as HTMLTableSectionElement;
  const input = byId<HTMLInputElement>('filter');
  const pauseButton = byId<HTMLButtonElement>('pause');
  const counter = byId('flow-count');
  const empty = byId('flows-empty');
  let filter: FlowFilter = parseFlowFilter('');
  let paused = false;
  let waiting = 0;
  let selected: string | undefined;

  const matches = (flow: FlowSummary): boolean => matchesFlowFilter(filter, flow);

  const updateCount = (): void => {
    const shown = tbody.rows.length;
    const total = store.all().length;
    counter.textContent = filter.terms.length > 0 ? `${shown} of ${total} flows match` : `${total} flows`;
    empty.hidden = total > 0;
  };

  const renderAll = (): void => {
    const rows: HTMLTableRowElement[] = [];
    const flows = store.all();
    for (let i = flows.length - 1; i >= 0 && rows.length < MAX_ROWS; i -= 1) {
      const flow = flows[i] as FlowSummary;
      if (matches(flow)) rows.push(flowRow(flow));
    }
    tbody.replaceChildren(...rows);
    markSelected();
    updateCount();
  };

  const markSelected = (): void => {
    for (const row of tbody.querySelectorAll('tr.selected')) row.classList.remove('selected');
    if (selected !== undefined) tbody.querySelector(`tr[data-id="${CSS.escape(selected)}"]`)?.classList.add('selected');
  };

  store.onChange((added) => {
    if (added.length === 0) {
      renderAll();
      return;
    }
    if (paused) {
      waiting += added.length;
      pauseButton.textContent = `Resume (${waiting} new)`;
      return;
    }
    const fresh = added.filter(matches).reverse().map(flowRow);
    tbody.prepend(...fresh);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
    updateCount();
  });

  let debounce: number | undefined;
  input.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      filter = parseFlowFilter(input.value);
      renderAll();
    }, 120);
  });

  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.setAttribute('aria-pressed', String(paused));
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      waiting = 0;
      renderAll();
    }
  });
  byId('clear').addEventListener('click', () => store.clear());

  tbody.addEventListener('click', (event) => {
    const row = (event.target as Element).closest('tr');
    const id = row?.getAttribute('data-id');
    if (!id) return;
    selected = id;
    markSelected();
    select(id);
  });
  tbody.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    (event.target as HTMLElement).click();
  });

  renderAll();
  return {
    setFilter(text) {
      input.value = text;
      filter = parseFlowFilter(text);
      renderAll();
    },
  };
};
