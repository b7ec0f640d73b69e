import { packagesReady } from './global-setup.ts';

// The packaged project's setup file: its files read what the global setup packages in the background.
await packagesReady();
