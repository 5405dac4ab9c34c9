// Loads a running node's status page in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded),
// waits until every part is rendered, takes a full-page screenshot and
// prints what the page shows as JSON on stdout:
//   { member, datasets_shown, catalog: [{dataset_id, rows}], catalog_count,
//     peers: [{ags, state}], statistic: {columns, rows: [[cell...]], coverage,
//     rule}, chart: {bars: [label...], suppressed: [{label, text}]},
//     errors: [console errors, CSP violations, page errors] }
//
//   node check_status_page.js URL SCREENSHOT.png
// Exit status: 0 when the page loaded (the caller judges the numbers), 1
// when it did not, 2 for usage. CHROMIUM=/path overrides the browser.
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const [url, screenshot] = process.argv.slice(2);
  if (!url || !screenshot) {
    console.error('usage: node check_status_page.js URL SCREENSHOT.png');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 60000,
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    page.on('pageerror', (e) => errors.push('page: ' + e.message));
    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
    const shown = await page.evaluate(() => {
      const text = (e) => (e ? e.textContent.trim() : '');
      const rows = (sel) => [...document.querySelectorAll(sel + ' tbody tr')]
        .map((tr) => [...tr.cells].map((td) => td.textContent.trim()));
      const statVisible = !document.getElementById('statistics-body').hidden;
      return {
        member: text(document.getElementById('node-member')),
        datasets_shown: text(document.getElementById('node-datasets')),
        catalog: rows('#catalog-table').map((c) => ({ dataset_id: c[0], title: c[1], rows: c[3] })),
        catalog_count: text(document.getElementById('catalog-count')),
        peers: rows('#peers-table').map((c) => ({ ags: c[0], state: c[2] })),
        audit_rows: rows('#audit-table').length,
        statistic: statVisible ? {
          columns: [...document.querySelectorAll('#statistics-table thead th')].map(text),
          rows: rows('#statistics-table'),
          coverage: text(document.getElementById('statistics-coverage')),
          rule: text(document.getElementById('statistics-rule')),
        } : null,
        chart: {
          bars: [...document.querySelectorAll('#chart g')]
            .filter((g) => g.querySelector('rect.bar')).map((g) => g.dataset.label),
          suppressed: [...document.querySelectorAll('#chart g')]
            .filter((g) => g.querySelector('rect.bar-suppressed'))
            .map((g) => ({ label: g.dataset.label, text: text(g.querySelector('text')) })),
        },
        error_banner: document.getElementById('error').hidden ? '' : text(document.getElementById('error')),
      };
    });
    await page.screenshot({ path: screenshot, fullPage: true });
    shown.errors = errors;
    process.stdout.write(JSON.stringify(shown, null, 1) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error('check_status_page.js: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
