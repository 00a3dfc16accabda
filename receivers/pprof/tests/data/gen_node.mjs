// gen_node.mjs — writes a multipart /ingest body exactly as Node 20's
// FormData (undici) serialises it, the way @pyroscope/nodejs uploads:
// one file part `profile` with filename `profile`.
//
//   cd receivers/pprof/tests/data && node gen_node.mjs /path/to/pprof__sample.cpu.pb.gz
import { readFileSync, writeFileSync } from 'node:fs';

const profile = readFileSync(process.argv[2]);
const fd = new FormData();
fd.append('profile', new Blob([profile]), 'profile');
const res = new Response(fd);
const body = Buffer.from(await res.arrayBuffer());
writeFileSync('node_cpu.body', body);
writeFileSync('node_cpu.ct', res.headers.get('content-type'));
