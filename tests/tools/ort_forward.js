// ort_forward.js MODEL.onnx IN.f32 REF.f32 DIM... - runs an ONNX model in ONNX
// Runtime (npm onnxruntime-node, found through NODE_PATH) on the raw float32
// input IN.f32 of shape DIM... (batch first) and compares its first output
// with REF.f32 (nn2c's output, raw float32): it passes when
//   max |ort - nn2c| <= RTOL * max(1, max |nn2c|)   (RTOL: env ORT_RTOL, 1e-5)
// Prints one line with the error; exit 0 pass, 1 fail, 77 when
// onnxruntime-node cannot be loaded (the reason is printed).
'use strict';
const fs = require('fs');

function floats(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function main() {
  const [model, input, refPath, ...dims] = process.argv.slice(2);
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    console.log(`skip: onnxruntime-node cannot be loaded: ${String(e.message).split('\n')[0]}`);
    process.exit(77);
  }
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const x = new ort.Tensor('float32', floats(input), dims.map(Number));
  const result = await session.run({ [session.inputNames[0]]: x });
  const got = result[session.outputNames[0]].data;
  const ref = floats(refPath);
  const rtol = Number(process.env.ORT_RTOL || 1e-5);
  let err = got.length === ref.length ? 0 : Infinity, scale = 1;
  for (let i = 0; i < ref.length && i < got.length; i++) {
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  const ok = err <= rtol * scale; // NaN fails too
  console.log(`ort ${ort.env.versions.common}: ${got.length} outputs (nn2c ${ref.length}), ` +
    `max |ort - nn2c| = ${err.toExponential(2)} (tolerance ${(rtol * scale).toExponential(1)})${ok ? '' : ' FAIL'}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL: ${String(e.message).split('\n')[0]}`);
  process.exit(1);
});
