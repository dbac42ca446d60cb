// Upload one file with tus-js-client under Node and print {"seconds": ..., "url": ...}.
// Usage: node tus_node_client.mjs <endpoint> <file> <chunk bytes or 0> [headers JSON] [metadata JSON]
import fs from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, file, chunk, headers = "{}", metadata = "{}"] = process.argv.slice(2);
const size = fs.statSync(file).size;
const started = process.hrtime.bigint();
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadSize: size,
  chunkSize: Number(chunk) > 0 ? Number(chunk) : Infinity,
  headers: JSON.parse(headers),
  metadata: JSON.parse(metadata),
  retryDelays: null,
  onError(err) { console.error(String(err)); process.exit(1); },
  onSuccess() {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(JSON.stringify({ seconds, url: upload.url }));
  },
});
upload.start();
