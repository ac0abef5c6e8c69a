// A run's graph drawn as inline SVG (used by run.js): the nodes and edges GET
// /api/agents/{agent_type}/graph gives (LangGraph's getGraph JSON), laid out top to bottom
// by longest path from __start__, so it fits a phone. Each node carries data-node and
// data-status (pending, current, candidate, done, waiting, failed); the page changes the
// statuses as the run's events arrive. Not a page: the router never loads it (its name
// has a hyphen).
import { put } from '../lib.js';

const W = 156; // node box
const H = 36;
const GX = 18; // gaps
const GY = 46;
const SVG = 'svg:';

// Layers: the longest path from __start__ to each node (edges back to an earlier layer, a
// loop, are ignored), so every edge that is not a loop points down.
function layers(graph) {
  const ids = graph.nodes.map(n => n.id);
  const layer = new Map(ids.map(id => [id, id === '__start__' ? 0 : -1]));
  for (let pass = 0; pass < ids.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      const from = layer.get(e.source);
      if (e.source === e.target || from === undefined || from < 0 || !layer.has(e.target)) continue;
      if (layer.get(e.target) < from + 1 && from + 1 < ids.length) {
        layer.set(e.target, from + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  // nodes no edge reaches from __start__ go under the others
  const max = Math.max(0, ...layer.values());
  for (const id of ids) if (layer.get(id) < 0) layer.set(id, max + 1);
  const end = layer.get('__end__');
  if (end !== undefined) layer.set('__end__', Math.max(...layer.values()) + (end < max ? 1 : 0));
  return layer;
}

// The static successors of a node (not through a conditional edge), and the conditional
// ones: what may run after it.
export function successors(graph, id) {
  const fixed = [];
  const maybe = [];
  for (const e of graph.edges) {
    if (e.source !== id || e.target === id) continue;
    (e.conditional ? maybe : fixed).push(e.target);
  }
  return { fixed, maybe };
}

function label(id) {
  if (id === '__start__') return 'start';
  if (id === '__end__') return 'end';
  return id.replace(/_/g, ' ');
}

// Draws graph into an <svg> (returned) with h; nodes are <g class="node" data-node=ID>.
export function drawGraph(h, graph, title) {
  const layer = layers(graph);
  const rows = new Map();
  for (const n of graph.nodes) {
    const l = layer.get(n.id);
    if (!rows.has(l)) rows.set(l, []);
    rows.get(l).push(n.id);
  }
  const widest = Math.max(...[...rows.values()].map(r => r.length));
  const width = widest * (W + GX) + GX;
  const nrows = Math.max(...rows.keys()) + 1;
  const height = nrows * (H + GY) + GY / 2;
  const pos = new Map();
  for (const [l, ids] of rows) {
    const rowWidth = ids.length * (W + GX) - GX;
    ids.forEach((id, i) => pos.set(id, { x: (width - rowWidth) / 2 + i * (W + GX), y: GY / 2 + l * (H + GY) }));
  }
  const svg = h(`${SVG}svg`, {
    class: 'run-graph', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'run-graph-title',
    preserveAspectRatio: 'xMidYMin meet',
  }, h(`${SVG}title`, { id: 'run-graph-title' }, title),
  h(`${SVG}defs`, {}, h(`${SVG}marker`, {
    id: 'run-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse',
  }, h(`${SVG}path`, { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }))));
  const edges = h(`${SVG}g`, { class: 'edges' });
  for (const e of graph.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b) continue;
    let d;
    if (e.source === e.target) { // a loop: out of the right side and back
      d = `M${a.x + W},${a.y + H / 3} c40,-20 40,${H / 3 + 20} 0,${H / 3}`;
    } else if (b.y > a.y) {
      const x1 = a.x + W / 2;
      const y1 = a.y + H;
      const x2 = b.x + W / 2;
      const y2 = b.y;
      d = `M${x1},${y1} C${x1},${y1 + GY / 2} ${x2},${y2 - GY / 2} ${x2},${y2}`;
    } else { // back up: around the left
      d = `M${a.x},${a.y + H / 2} C${a.x - 40},${a.y} ${b.x - 40},${b.y + H} ${b.x},${b.y + H / 2}`;
    }
    const path = h(`${SVG}path`, { d, class: e.conditional ? 'edge cond' : 'edge', 'marker-end': 'url(#run-arrow)', dataset: { from: e.source, to: e.target } });
    put(edges, path);
    if (e.data) {
      const mx = (a.x + b.x) / 2 + W / 2;
      const my = (a.y + H + b.y) / 2;
      put(edges, h(`${SVG}text`, { x: String(mx + 4), y: String(my), class: 'edge-label' }, e.data));
    }
  }
  put(svg, edges);
  const nodes = h(`${SVG}g`, { class: 'nodes' });
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const schema = n.type === 'schema';
    put(nodes, h(`${SVG}g`, { class: schema ? 'node terminal' : 'node', dataset: { node: n.id, status: 'pending' } },
      h(`${SVG}rect`, { x: String(p.x), y: String(p.y), width: String(W), height: String(H), rx: schema ? String(H / 2) : '6' }),
      h(`${SVG}text`, { x: String(p.x + W / 2), y: String(p.y + H / 2), 'text-anchor': 'middle', 'dominant-baseline': 'central' }, label(n.id))));
  }
  put(svg, nodes);
  return svg;
}

export function nodeLabel(id) {
  return label(id);
}
