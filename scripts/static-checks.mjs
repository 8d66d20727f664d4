#!/usr/bin/env node
// Offline static checks of the Salesforce source in metadata/ (run by `npm test`).
// Each check prints its own result; the exit code is 1 if any check failed.
// Usage: node scripts/static-checks.mjs [check ...]   (checks: xsd apex flows pmd prettier eslint)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = path.join(ROOT, 'metadata');
const NODE_MODULES = path.join(ROOT, 'node_modules');

function walk(dir, keep) {
    if (!fs.existsSync(dir)) return [];
    const out = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            if (entry.name !== 'node_modules' && entry.name !== '.sfdx') out.push(...walk(full, keep));
        } else if (keep(full)) {
            out.push(full);
        }
    }
    return out.sort();
}

const rel = (p) => path.relative(ROOT, p).split(path.sep).join('/');

// --------------------------------------------------------------------------- checks

/** Every metadata XML file against the Metadata API v66 schema, via sfsync's own validator. */
async function checkXsd() {
    const python = [path.join(ROOT, '.venv', 'bin', 'python'), 'python3'].find(
        (p) => p === 'python3' || fs.existsSync(p)
    );
    const code =
        'import sys; from pathlib import Path; from sfsync.validation import validate_tree; ' +
        "r = validate_tree(Path(sys.argv[1])); print(*r.problems, sep='\\n'); " +
        "print(f'{r.files_checked} files checked'); sys.exit(1 if r.problems else 0)";
    const run = spawnSync(python, ['-c', code, ROOT], { cwd: ROOT, encoding: 'utf8' });
    if (run.error) return { ok: false, lines: [`cannot run ${python}: ${run.error.message}`] };
    const lines = `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean);
    return { ok: run.status === 0, lines };
}

/** Every .cls and .trigger parses with @apexdevtools/apex-parser. */
async function checkApexParse() {
    const { ApexParserFactory, ApexErrorListener } = await import('@apexdevtools/apex-parser');
    const files = walk(SOURCE, (f) => f.endsWith('.cls') || f.endsWith('.trigger'));
    const lines = [];
    for (const file of files) {
        const errors = [];
        class Listener extends ApexErrorListener {
            apexSyntaxError(line, column, msg) {
                errors.push(`${rel(file)}:${line}:${column}: ${msg}`);
            }
        }
        const { parser } = ApexParserFactory.createLexerAndParser(fs.readFileSync(file, 'utf8'), new Listener());
        if (file.endsWith('.trigger')) parser.triggerUnit();
        else parser.compilationUnit();
        lines.push(...errors);
    }
    lines.push(`${files.length} Apex files parsed`);
    return { ok: lines.length === 1, lines };
}

/** Lightning Flow Scanner (core 6.6.0, default rules): no rule result of severity error. */
async function checkFlows() {
    // The package is CommonJS; require() gives its named exports reliably.
    const { parse, scan } = createRequire(import.meta.url)('@flow-scanner/lightning-flow-scanner-core');
    const files = walk(SOURCE, (f) => f.endsWith('.flow-meta.xml'));
    if (files.length === 0) return { ok: true, lines: ['no flows'] };
    const parsed = await parse(files);
    const lines = [];
    let errors = 0;
    for (const p of parsed) {
        if (p.errorMessage) {
            errors++;
            lines.push(`${rel(p.uri)}: cannot parse: ${p.errorMessage}`);
        }
    }
    for (const result of scan(parsed.filter((p) => !p.errorMessage))) {
        for (const rule of result.ruleResults) {
            if (rule.errorMessage) {
                errors++;
                lines.push(`${result.flow.name}: rule ${rule.ruleName} failed to run: ${rule.errorMessage}`);
            }
            if (!rule.occurs) continue;
            const where = rule.details.map((d) => d.name ?? d.type ?? 'flow').join(', ');
            if (rule.severity === 'error') errors++;
            lines.push(`${result.flow.name}: [${rule.severity}] ${rule.ruleName}: ${where}`);
        }
    }
    lines.push(`${files.length} flows scanned, ${errors} error(s)`);
    return { ok: errors === 0, lines };
}

/** PMD 7 Apex rules (jars of @salesforce/code-analyzer-pmd-engine): no priority 1-2 violation. */
async function checkPmd() {
    const files = walk(SOURCE, (f) => f.endsWith('.cls') || f.endsWith('.trigger'));
    if (files.length === 0) return { ok: true, lines: ['no Apex files'] };
    const lib = path.join(NODE_MODULES, '@salesforce', 'code-analyzer-pmd-engine', 'dist', 'java-lib');
    if (!fs.existsSync(lib)) return { ok: false, lines: [`missing ${rel(lib)} (run npm ci)`] };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sfsync-pmd-'));
    try {
        const java = (args) =>
            spawnSync('java', ['-cp', path.join(lib, '*'), 'com.salesforce.sfca.pmdwrapper.PmdWrapper', ...args], {
                cwd: work,
                encoding: 'utf8'
            });
        // 1. Describe: every Apex rule with its priority (High = 1, Medium High = 2).
        fs.writeFileSync(path.join(work, 'custom.txt'), '');
        const describe = java(['describe', path.join(work, 'rules.json'), path.join(work, 'custom.txt'), 'apex']);
        if (describe.status !== 0)
            return { ok: false, lines: [`PMD describe failed: ${describe.stderr || describe.error}`] };
        const rules = JSON.parse(fs.readFileSync(path.join(work, 'rules.json'), 'utf8'));
        const priority = new Map(rules.map((r) => [r.name, r.priority]));
        // 2. Run all of them.
        const ruleset = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<ruleset name="sfsync" xmlns="http://pmd.sourceforge.net/ruleset/2.0.0">',
            '  <description>All PMD Apex rules</description>',
            ...rules.map((r) => `  <rule ref="${r.ruleSetFile}/${r.name}"/>`),
            '</ruleset>'
        ].join('\n');
        fs.writeFileSync(path.join(work, 'ruleset.xml'), ruleset);
        const input = {
            ruleSetInputFile: path.join(work, 'ruleset.xml'),
            runDataPerLanguage: { apex: { filesToScan: files } }
        };
        fs.writeFileSync(path.join(work, 'input.json'), JSON.stringify(input));
        const run = java(['run', path.join(work, 'input.json'), path.join(work, 'results.json')]);
        if (run.status !== 0) return { ok: false, lines: [`PMD run failed: ${run.stderr || run.error}`] };
        const results = JSON.parse(fs.readFileSync(path.join(work, 'results.json'), 'utf8'));
        const lines = [];
        let blocking = 0;
        let other = 0;
        for (const v of results.violations) {
            const prio = priority.get(v.rule) ?? '?';
            const high = prio === 'High' || prio === 'Medium High';
            if (high) blocking++;
            else other++;
            const loc = v.codeLocation;
            lines.push(
                `${high ? 'FAIL' : 'info'} ${rel(loc.file)}:${loc.startLine}: [${prio}] ${v.rule}: ${v.message}`
            );
        }
        for (const e of results.processingErrors ?? []) {
            blocking++;
            lines.push(`FAIL processing error: ${e.file}: ${e.message}`);
        }
        lines.push(
            `${files.length} Apex files, ${rules.length} rules: ${blocking} priority 1-2 finding(s), ${other} lower`
        );
        return { ok: blocking === 0, lines };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** Prettier (with the Apex and XML plugins, .prettierrc) agrees with the formatting. */
async function checkPrettier() {
    const prettier = await import('prettier');
    const files = walk(SOURCE, (f) => /\.(cls|trigger|xml|js|html|css)$/.test(f));
    const lines = [];
    for (const file of files) {
        const options = await prettier.resolveConfig(file);
        const info = await prettier.getFileInfo(file, { ignorePath: path.join(ROOT, '.prettierignore') });
        if (info.ignored) continue;
        const ok = await prettier.check(fs.readFileSync(file, 'utf8'), { ...options, filepath: file });
        if (!ok) lines.push(`${rel(file)}: not formatted (npm run prettier)`);
    }
    lines.push(`${files.length} files checked`);
    return { ok: lines.length === 1, lines };
}

// ESLint with the LWC configs (eslint.config.js) on JavaScript under lwc/ and aura/; none yet is fine.
async function checkEslint() {
    const files = walk(SOURCE, (f) => f.endsWith('.js') && /[\\/](lwc|aura)[\\/]/.test(f));
    if (files.length === 0) return { ok: true, lines: ['no LWC or Aura JavaScript yet'] };
    const { ESLint } = await import('eslint');
    const eslint = new ESLint({ cwd: ROOT });
    const results = await eslint.lintFiles(files);
    const lines = [];
    let errors = 0;
    for (const r of results) {
        for (const m of r.messages) {
            if (m.severity === 2) errors++;
            lines.push(
                `${rel(r.filePath)}:${m.line}:${m.column}: ${m.severity === 2 ? 'error' : 'warning'} ${m.message} (${m.ruleId})`
            );
        }
    }
    lines.push(`${files.length} files linted, ${errors} error(s)`);
    return { ok: errors === 0, lines };
}

const CHECKS = {
    xsd: ['XSD validation (sfsync.validation)', checkXsd],
    apex: ['Apex parses (@apexdevtools/apex-parser)', checkApexParse],
    flows: ['Lightning Flow Scanner', checkFlows],
    pmd: ['PMD Apex rules', checkPmd],
    prettier: ['Prettier (Apex, XML)', checkPrettier],
    eslint: ['ESLint (LWC)', checkEslint]
};

const selected = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CHECKS);
let failed = 0;
for (const key of selected) {
    if (!CHECKS[key]) {
        console.error(`unknown check ${key}; known: ${Object.keys(CHECKS).join(' ')}`);
        process.exit(2);
    }
    const [title, fn] = CHECKS[key];
    let result;
    try {
        result = await fn();
    } catch (err) {
        result = { ok: false, lines: [String(err?.stack ?? err)] };
    }
    if (!result.ok) failed++;
    console.log(`${result.ok ? 'PASS' : 'FAIL'} ${title}`);
    for (const line of result.lines) console.log(`    ${line}`);
}
const passed = selected.length - failed;
console.log(`static-checks: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
