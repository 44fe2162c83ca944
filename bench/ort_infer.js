// ort_infer.js - inference latency of an ONNX model in ONNX Runtime (npm onnxruntime-node).
//
//   node ort_infer.js MODEL.onnx INPUT.f32 DIM... --batch B --threads T [--iters N] [--seconds S]
//
// DIM...: the shape of one sample, e.g. C H W for an image (the batch dimension
// B is put in front).
//
// 1. Opens an InferenceSession on the CPU execution provider with T intra-op
//    threads, one inter-op thread, sequential execution and all graph
//    optimizations (ONNX Runtime's best CPU setting for a small model).
// 2. Feeds a batch of B samples taken from INPUT.f32 (raw float32 samples,
//    NCHW for images, repeated to fill the batch) as the model's first input.
// 3. 5 warm-up runs, then times every session.run (process.hrtime) until N
//    runs and S seconds have passed. The time includes the Node binding's
//    call and promise overhead, a few microseconds.
// 4. Prints: ort VERSION batch=B threads=T iters=N median_us=.. p10_us=.. p90_us=..
// Needs onnxruntime-node installed (`npm install onnxruntime-node --ignore-scripts`)
// where NODE_PATH (its node_modules folder) or the usual lookup finds it.
'use strict';
const fs = require('fs');

function parseArgs(argv) {
  const pos = [];
  const opt = { batch: 1, threads: 1, iters: 200, seconds: 1.0 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) opt[argv[i].slice(2)] = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length < 3) {
    console.error('usage: node ort_infer.js MODEL.onnx INPUT.f32 DIM... --batch B --threads T');
    process.exit(2);
  }
  return { model: pos[0], input: pos[1], dims: pos.slice(2).map(Number), ...opt };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    console.log(`ort unavailable: ${String(e.message).split('\n')[0]}`);
    return;
  }
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const per = a.dims.reduce((p, d) => p * d, 1);
  const buf = fs.readFileSync(a.input);
  const src = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
  const data = new Float32Array(a.batch * per);
  for (let i = 0; i < data.length; i++) data[i] = src[i % src.length];
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [a.batch, ...a.dims]) };

  for (let i = 0; i < 5; i++) await session.run(feeds);
  const times = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(a.seconds * 1e9));
  while (times.length < a.iters || process.hrtime.bigint() < end) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  times.sort((x, y) => x - y);
  const n = times.length;
  const f = (v) => v.toFixed(2);
  console.log(`ort ${ort.env.versions.common} batch=${a.batch} threads=${a.threads} iters=${n} ` +
    `median_us=${f(times[n >> 1])} p10_us=${f(times[Math.floor(n / 10)])} ` +
    `p90_us=${f(times[Math.floor(n * 9 / 10)])}`);
}

main().catch((e) => {
  console.log(`ort failed: ${String(e.message).split('\n')[0]}`);
});
