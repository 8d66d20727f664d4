// Bundles the board for the browser with LWC OSS: the component sources from metadata/, the
// stand-ins of preview/modules/lightning, and '@salesforce/...' imports answered by the mock org.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import lwc from '@lwc/rollup-plugin';
import replace from '@rollup/plugin-replace';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const LWC_DIR = path.join(ROOT, 'metadata', 'main', 'default', 'lwc');
const LABELS = path.join(ROOT, 'metadata', 'main', 'default', 'labels', 'CustomLabels.labels-meta.xml');
const JA = path.join(ROOT, 'metadata', 'main', 'default', 'translations', 'ja.translation-meta.xml');
const COMPONENTS = ['testDriveBoard', 'boardBookingForm', 'boardTimeline'];

const unescape = (s) =>
    s
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&');

/** {en: {name: text}, ja: {name: text}} from the org's label and translation files. */
export function readLabels() {
    const en = {};
    for (const m of fs.readFileSync(LABELS, 'utf8').matchAll(/<labels>([\s\S]*?)<\/labels>/g)) {
        const name = /<fullName>([^<]*)<\/fullName>/.exec(m[1])[1];
        en[name] = unescape(/<value\s*>([\s\S]*?)<\/value>/.exec(m[1])[1]);
    }
    const ja = {};
    for (const m of fs.readFileSync(JA, 'utf8').matchAll(/<customLabels>([\s\S]*?)<\/customLabels>/g)) {
        const name = /<name>([^<]*)<\/name>/.exec(m[1])[1];
        ja[name] = unescape(/<label\s*>([\s\S]*?)<\/label>/.exec(m[1])[1]);
    }
    return { en, ja };
}

function salesforceImports() {
    const src = (file) => JSON.stringify(path.join(HERE, 'src', file));
    return {
        name: 'salesforce-imports',
        resolveId(source) {
            return source.startsWith('@salesforce/') ? `\0${source}` : null;
        },
        load(id) {
            if (!id.startsWith('\0@salesforce/')) return null;
            const source = id.slice(1);
            if (source === '@salesforce/apex') return `export { refreshApex } from ${src('apex.js')};`;
            let m = /^@salesforce\/apex\/TestDriveBoardController\.(\w+)$/.exec(source);
            if (m) return `export { ${m[1]} as default } from ${src('apex.js')};`;
            m = /^@salesforce\/label\/c\.(\w+)$/.exec(source);
            if (m) return `import { label } from ${src('labels.js')}; export default label(${JSON.stringify(m[1])});`;
            if (source === '@salesforce/i18n/timeZone') return `export default 'Asia/Tokyo';`;
            throw new Error(`the preview has no stand-in for ${source}`);
        }
    };
}

function labelData() {
    return {
        name: 'label-data',
        resolveId: (source) => (source === 'virtual:labels' ? '\0virtual:labels' : null),
        load: (id) => (id === '\0virtual:labels' ? `export default ${JSON.stringify(readLabels())};` : null)
    };
}

/** The bundle's code (one ES module). */
export async function buildPreview() {
    const bundle = await rollup({
        input: path.join(HERE, 'src', 'main.js'),
        plugins: [
            salesforceImports(),
            labelData(),
            replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
            lwc({
                rootDir: HERE,
                modules: [
                    { dir: path.join(HERE, 'modules') },
                    ...COMPONENTS.map((name) => ({ name: `c/${name}`, path: path.join(LWC_DIR, name, `${name}.js`) }))
                ]
            })
        ],
        onwarn(warning, warn) {
            if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
        }
    });
    const { output } = await bundle.generate({ format: 'esm' });
    await bundle.close();
    return output[0].code;
}
