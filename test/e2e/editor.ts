/**
 * Drives the real Node-RED editor in Debian's Chromium through playwright-core. Selectors come from
 * @node-red/editor-client 4.1 (public/red/red.js) and the core debug node (21-debug.html, debug-utils.js).
 */
import fs from 'fs';
import path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SCREENSHOTS, delay, waitFor } from './harness';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const LOOPBACK_URL = /^(https?|wss?):\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

/** Chromium with a throwaway profile; every request to a non-loopback host is aborted. */
export async function launchBrowser(profileDir: string): Promise<BrowserContext> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: run scripts/install-debian-package.sh chromium /usr/bin/chromium (or set CHROMIUM_PATH)`,
    );
  }
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      // the suite opens a second tab for the demo: keep timers and animations of the other one at speed
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  await context.route(
    (url) => !LOOPBACK_URL.test(url.href),
    (route) => route.abort('blockedbyclient'),
  );
  return context;
}

export interface HelpContent {
  /** the sidebar shows "None": the node has no help */
  none: boolean;
  title: string;
  /** the help's first element: must be the one-line summary paragraph */
  firstTag: string;
  summary: string;
  headings: string[];
  messageProperties: number;
  text: string;
}

export interface DeployOutcome {
  ok: boolean;
  /** text of the notification Node-RED showed (success, warning or error) */
  message: string;
}

/** Minimal jQuery/RED shape the page functions use (the editor's globals, untyped). */
type Any = any;

export class Editor {
  /** console errors and uncaught page errors, in order */
  readonly errors: string[] = [];

  constructor(
    readonly page: Page,
    readonly url: string,
  ) {
    page.on('console', (m) => {
      if (m.type() === 'error') {
        const loc = m.location();
        this.errors.push(`console.error: ${m.text()}${loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      }
    });
    page.on('pageerror', (e) => this.errors.push(`pageerror: ${e.stack || e.message}`));
  }

  errorsSince(mark: number): string[] {
    return this.errors.slice(mark);
  }

  /** Load the editor and wait until the palette and the flows are in. */
  async open(): Promise<void> {
    await this.page.goto(this.url + '/');
    await this.page.waitForFunction(
      () => {
        const w = window as Any;
        return (
          w.RED?.workspaces?.active?.() &&
          w.$('#red-ui-loading-progress').is(':hidden') &&
          w.$('.red-ui-palette-node').length > 0
        );
      },
      undefined,
      { timeout: 60_000 },
    );
  }

  /** Reload, discarding undeployed edits (no beforeunload prompt). */
  async reload(): Promise<void> {
    await this.page.evaluate(() => (window as Any).RED.nodes.dirty(false));
    await this.open();
  }

  paletteNode(type: string) {
    return this.page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
  }

  /** Drag a node from the palette onto the workspace at (x, y) of the canvas; returns its id. */
  async dragFromPalette(type: string, x: number, y: number): Promise<string> {
    const item = this.paletteNode(type);
    await item.scrollIntoViewIfNeeded();
    const from = await item.boundingBox();
    const chart = await this.page.locator('#red-ui-workspace-chart').boundingBox();
    if (!from || !chart) throw new Error(`palette node ${type} or workspace not visible`);
    const before: string[] = await this.page.evaluate(
      (t) => (window as Any).RED.nodes.filterNodes({ type: t }).map((n: Any) => n.id),
      type,
    );
    const mouse = this.page.mouse;
    await mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await mouse.down();
    await mouse.move(from.x + from.width / 2 + 20, from.y + from.height / 2 + 5, { steps: 4 });
    await mouse.move(chart.x + x, chart.y + y, { steps: 10 });
    await mouse.up();
    return waitFor(
      () =>
        this.page.evaluate(
          ({ t, known }) =>
            (window as Any).RED.nodes
              .filterNodes({ type: t })
              .map((n: Any) => n.id)
              .find((id: string) => !known.includes(id)),
          { t: type, known: before },
        ),
      5000,
      `${type} dropped on the workspace`,
    );
  }

  /** Double-click a node on the canvas and wait for its edit tray. */
  async editNode(id: string): Promise<void> {
    await this.page.evaluate((nodeId) => (window as Any).RED.view.reveal(nodeId, false), id);
    await this.page.locator(`g.red-ui-flow-node-group[id="${id}"] rect.red-ui-flow-node`).dblclick();
    await this.waitTray('#node-dialog-ok');
  }

  /** Wait for the top tray to show `okButton` and finish opening. */
  async waitTray(okButton: string): Promise<void> {
    await this.page.locator(okButton).waitFor({ state: 'visible', timeout: 10_000 });
    await this.waitTraySettled();
  }

  /** RED.tray slides the top tray in (right: 0), then raises the editor stack to z-index 13. */
  private async waitTraySettled(): Promise<void> {
    await this.page.waitForFunction(
      () => {
        const $ = (window as Any).$;
        const top = $('.red-ui-tray').last()[0];
        return (
          top && getComputedStyle(top).right === '0px' && $('#red-ui-editor-stack').css('zIndex') === '13'
        );
      },
      undefined,
      { timeout: 10_000 },
    );
  }

  /** Trays in the DOM: RED.tray detaches the trays under the top one, so 1 while any is open. */
  trayCount(): Promise<number> {
    return this.page.locator('.red-ui-tray').count();
  }

  /** Press the top tray's `okButton`; wait until that tray is gone and the one under it (if any) is back. */
  async closeTray(okButton: string): Promise<void> {
    const top = await this.page.locator('.red-ui-tray').last().elementHandle();
    if (!top) throw new Error('no tray open');
    await this.page.locator(okButton).click();
    await waitFor(() => top.evaluate((el) => !el.isConnected), 10_000, `tray closed by ${okButton}`);
    await top.dispose();
    if ((await this.trayCount()) > 0) await this.waitTraySettled();
  }

  /** Press the book button in the top tray's footer and read the help sidebar. */
  async showHelpFromTray(): Promise<HelpContent> {
    await this.page
      .locator('.red-ui-tray')
      .last()
      .locator('.red-ui-tray-footer-left button:has(i.fa-book)')
      .click();
    await this.page.locator('.red-ui-sidebar-help-stack .red-ui-help-title').waitFor({ state: 'visible' });
    return this.readHelp();
  }

  /** Fold the help sidebar's topic list away so the help text gets the room (screenshots). */
  async hideHelpTopics(): Promise<void> {
    const toc = this.page.locator('#red-ui-sidebar-help-show-toc');
    if (await toc.evaluate((el) => el.classList.contains('selected'))) await toc.click();
  }

  readHelp(): Promise<HelpContent> {
    return this.page.evaluate(() => {
      const $ = (window as Any).$;
      const stack = $('.red-ui-sidebar-help-stack');
      // RED.sidebar.help: div.red-ui-help (section) > h1.red-ui-help-title + div.red-ui-help > span
      const body = stack.find('.red-ui-help .red-ui-help > .red-ui-text-bidi-aware');
      const first = body.children().first();
      return {
        none: stack.find('.red-ui-help .red-ui-help-info-none').length > 0,
        title: stack.find('.red-ui-help-title').text().trim(),
        firstTag: (first.prop('tagName') || '').toLowerCase(),
        summary: first.text().trim(),
        headings: body
          .find('h3')
          .map((_i: number, h: Any) => $(h).text().trim())
          .get(),
        messageProperties: body.find('dl.message-properties').length,
        text: body.text().trim(),
      };
    });
  }

  /** Import a flow through the menu's Import dialog into a new flow tab, and drop it on the canvas. */
  async importFlow(json: string): Promise<void> {
    await this.page.locator('#red-ui-header-button-sidemenu').click();
    await this.page.locator('#menu-item-import').click();
    const text = this.page.locator('#red-ui-clipboard-dialog-import-text');
    await text.waitFor({ state: 'visible' });
    await text.fill(json);
    await text.press('End'); // the dialog validates the JSON on keyup
    await this.page.locator('#red-ui-clipboard-dialog-import-opt-new').click();
    await this.page.locator('#red-ui-clipboard-dialog-ok').click();
    await text.waitFor({ state: 'hidden' });
    // imported nodes hang on the mouse until a click places them
    const chart = await this.page.locator('#red-ui-workspace-chart').boundingBox();
    if (chart) {
      await this.page.mouse.move(chart.x + 120, chart.y + 80, { steps: 3 });
      await this.page.mouse.click(chart.x + 120, chart.y + 80);
    }
    await waitFor(
      () => this.page.evaluate(() => (window as Any).RED.view.state() === 0),
      5000,
      'imported nodes placed',
    );
  }

  /** Press Deploy; resolves with the notification the editor shows. */
  async deploy(): Promise<DeployOutcome> {
    const button = this.page.locator('#red-ui-header-button-deploy');
    if (await button.evaluate((el) => el.classList.contains('disabled'))) {
      return { ok: false, message: 'the Deploy button is disabled (nothing changed?)' };
    }
    // the answer is the first notification that was not there before the click
    await this.page.evaluate(() => (window as Any).$('.red-ui-notification').attr('data-e2e-seen', '1'));
    await button.click();
    const note = this.page.locator('.red-ui-notification:not([data-e2e-seen])').first();
    await note.waitFor({ state: 'visible', timeout: 20_000 });
    const message = (await note.innerText()).trim();
    const cls = (await note.getAttribute('class')) || '';
    const ok = cls.includes('red-ui-notification-success');
    if (!ok && (await this.page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy').count())) {
      // the "invalid/unknown nodes" confirmation: cancel it, a clean deploy never asks
      await note.locator('button', { hasText: 'Cancel' }).click();
    }
    if (ok) {
      await waitFor(
        () => this.page.locator('#red-ui-header-button-deploy.disabled').count(),
        20_000,
        'deploy finished',
      );
    }
    await this.closeNotifications();
    return { ok, message };
  }

  /** After a failed test: close trays, dialogs and notifications so the next test starts clean. */
  async recover(): Promise<void> {
    for (let i = 0; i < 5 && (await this.trayCount()) > 0; i++) {
      await this.page.evaluate(() => (window as Any).RED.tray.close());
      await delay(400);
    }
    await this.page.evaluate(() => {
      const $ = (window as Any).$;
      $('.ui-dialog-content:visible').dialog('close');
      if ((window as Any).RED.view.state() !== 0) $('#red-ui-workspace-chart').trigger('mouseup');
    });
    await this.closeNotifications();
  }

  async closeNotifications(): Promise<void> {
    await this.page.evaluate(() => {
      const $ = (window as Any).$;
      $('.red-ui-notification').each((_i: number, n: Any) => {
        if (n.close) n.close();
      });
    });
  }

  /**
   * Click a sidebar tab ('debug', 'help', 'info', 'config'): its tab label, or its icon button when the
   * sidebar is narrow and shows the tabs collapsed (.red-ui-tab-link-buttons).
   */
  async openSidebarTab(tab: string): Promise<void> {
    const label = this.page.locator(`#red-ui-sidebar-tabs #red-ui-tab-${tab} a.red-ui-tab-label`);
    if (await label.isVisible()) await label.click();
    else await this.page.locator(`#red-ui-sidebar .red-ui-tab-link-buttons a[href="#${tab}"]`).click();
    await this.page.locator(`#red-ui-sidebar-tabs #red-ui-tab-${tab}.active`).waitFor({ state: 'attached' });
  }

  async screenshot(name: string, options: { selector?: string; file?: string } = {}): Promise<string> {
    const file = options.file || path.join(SCREENSHOTS, `${name}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (options.selector) await this.page.locator(options.selector).screenshot({ path: file });
    else await this.page.screenshot({ path: file });
    return file;
  }
}
