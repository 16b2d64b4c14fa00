// node_run.mjs FILE.wasm [FUNC [I32...]] — the V8 runner of the engine benchmark:
// instantiates the module without imports, calls FUNC (default `bench`) and prints the
// i32 result as `arq wasm run` does; the in-process time of the call goes to stderr
// (it includes V8's tier-up compilation during the call, as a real first call would).
import { readFileSync } from 'node:fs';

const [file, fn = 'bench', ...args] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(file));
const t0 = process.hrtime.bigint();
const r = instance.exports[fn](...args.map(Number));
const t1 = process.hrtime.bigint();
console.log(`i32:${r | 0}`);
console.error(`in-process ns: ${t1 - t0}`);
