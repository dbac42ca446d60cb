// The reference tus server (@tus/server + @tus/file-store) for the side-by-side benchmark.
// Usage: node tus_node_server.mjs <port> <directory>
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const server = new Server({ path: "/files", datastore: new FileStore({ directory }) });
server.listen({ host: "127.0.0.1", port: Number(port) }, () => {
  console.log(`listening ${port}`);
});
