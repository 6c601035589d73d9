#!/usr/bin/env node
// The `mesa` executable. Mesa is written in TypeScript and runs it through tsx's loader, so there is no build
// step between a checkout and a working command.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
