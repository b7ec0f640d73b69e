import { smoke } from './smoke/run.ts';

/** `npm run smoke`: see scripts/smoke/run.ts and docs/deploy.md. */
process.exitCode = await smoke(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`));
