// Jest for the Lightning web components (sfdx-lwc-jest's preset), with the board's coverage bar.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

export default {
    ...jestConfig,
    setupFilesAfterEnv: [...(jestConfig.setupFilesAfterEnv || []), '<rootDir>/jest.setup.js'],
    testPathIgnorePatterns: [...jestConfig.testPathIgnorePatterns, '<rootDir>/.venv/', '<rootDir>/preview/'],
    modulePathIgnorePatterns: ['<rootDir>/.venv/'],
    // The LWC transformer does not instrument for babel's coverage; V8 measures the compiled modules.
    coverageProvider: 'v8',
    coverageReporters: ['text', 'text-summary'],
    collectCoverageFrom: [
        'metadata/main/default/lwc/testDriveBoard/*.js',
        'metadata/main/default/lwc/boardBookingForm/*.js',
        'metadata/main/default/lwc/boardTimeline/*.js'
    ],
    coverageThreshold: {
        './metadata/main/default/lwc/testDriveBoard/': { lines: 90 },
        './metadata/main/default/lwc/boardBookingForm/': { lines: 90 },
        './metadata/main/default/lwc/boardTimeline/': { lines: 90 }
    }
};
