#!/usr/bin/env node
// The CLI entry: runs the compiled TypeScript (npm run build writes dist/).
import { main } from '../dist/src/cli/main.js';

await main(process.argv.slice(2));
