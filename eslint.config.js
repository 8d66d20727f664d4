// ESLint 9 flat config for Lightning Web Components, as the trailheadapps samples configure it.
// There is no LWC yet: scripts/static-checks.mjs skips ESLint until metadata/**/lwc has JavaScript.
import { createRequire } from 'node:module';
import globals from 'globals';

const require = createRequire(import.meta.url);
const salesforceLwcConfig = require('@salesforce/eslint-config-lwc/recommended');

export default [
    {
        ignores: ['node_modules/**', '.venv/**', 'metadata/**/staticresources/**']
    },
    ...[].concat(salesforceLwcConfig).map((config) => ({
        ...config,
        files: ['metadata/**/lwc/**/*.js']
    })),
    {
        files: ['metadata/**/lwc/**/__tests__/**/*.js', 'metadata/**/lwc/**/*.test.js'],
        rules: {
            '@lwc/lwc/no-unexpected-wire-adapter-usages': 'off'
        },
        languageOptions: {
            globals: {
                ...globals.node,
                ...globals.jest
            }
        }
    }
];
