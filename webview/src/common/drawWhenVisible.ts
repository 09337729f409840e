// Drawing that waits while its tab is hidden: asked for then, it runs once the tab is shown.

export class DrawWhenVisible {
  private visible = true;
  private pending = false;

  constructor(private readonly draw: () => void) {}

  /** True when drawing may go ahead now; otherwise it is kept for when the tab is shown. */
  now(): boolean {
    if (!this.visible) {
      this.pending = true;
      return false;
    }
    this.pending = false;
    return true;
  }

  /** Drawing is due, but later (the caller draws when it chooses, or the tab's showing does). */
  later(): void {
    this.pending = true;
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.pending) this.draw();
  }
}
