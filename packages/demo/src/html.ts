/** The page body: controls, the steps table and the matrix. */
export const DEMO_BODY = `
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; max-width: 1100px; color: #222; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  #drop { border: 2px dashed #889; border-radius: 8px; padding: 14px; margin-bottom: 12px; background: #f6f7fb; }
  label { margin-right: 14px; }
  button { margin-right: 8px; padding: 4px 12px; }
  table { border-collapse: collapse; margin-top: 12px; width: 100%; }
  td, th { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
  code, pre { font: 12px ui-monospace, monospace; }
  pre { background: #f4f4f4; padding: 10px; overflow-x: auto; }
  #status { margin: 10px 0; color: #245; } #status.error { color: #b00; }
</style>
<h1>normbridge: one BatchNorm spec, in your browser</h1>
<div id="drop">Drop a <b>.safetensors</b> checkpoint here, or pick one: <input type="file" id="checkpoint" accept=".safetensors">
  <div id="checkpoint-info"></div></div>
<label>Layer <select id="layer"></select></label>
<label>Backend <select id="backend"></select></label>
<button id="train">Train step</button><button id="eval">Eval step</button><button id="run-matrix">Conformance matrix</button>
<div id="status">loading…</div>
<table><thead><tr><th>step</th><th>mode</th><th>backend</th><th>output (first values)</th><th>state after</th></tr></thead><tbody id="steps"></tbody></table>
<h2 style="font-size:16px">Conformance fixtures of this layer's framework on this backend</h2>
<pre id="matrix">(press "Conformance matrix")</pre>
`;
