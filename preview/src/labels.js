// Custom labels for the preview, read from the org's label and translation files at build time.
import LABELS from 'virtual:labels';
import { LANG } from './state';

export function label(name) {
    return (LANG === 'ja' && LABELS.ja[name]) || LABELS.en[name] || name;
}
