// npm ci's preinstall (package.json): one line saying which Node runs the
// project when npm itself runs on another. npm puts node_modules/.bin (the
// pinned Node 24) first on PATH for scripts, so this reads the Node that runs
// npm from npm's user agent ("npm/11.19.1 node/v20.20.2 linux x64 ...").
const agent = process.env.npm_config_user_agent ?? '';
const npmNode = /\bnode\/v(\d+)\.\S*/.exec(agent);
if (npmNode !== null && Number(npmNode[1]) < 24) {
  console.log(`agentwarden runs on Node 24, which npm ci installs (node_modules/.bin/node, the pinned "node" devDependency) and make and bin/agentwarden use; this npm runs on ${npmNode[0].replace('node/', 'Node ')}, which only installs.`);
}
