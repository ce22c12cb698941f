// Renders only the table rows in view (plus a margin), so a table of thousands of containers
// scrolls and updates as smoothly as one of ten. Rows have one fixed height (styles.css).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export const ROW_HEIGHT_PX = 34;
const OVERSCAN_ROWS = 10;

export function VirtualRows<T>(props: {
  rows: readonly T[];
  columns: number;
  renderRow: (row: T, index: number) => ComponentChildren;
  /** The scrolling element the table sits in. */
  scroller: { current: HTMLElement | null };
}) {
  const [range, setRange] = useState({ first: 0, last: 60 });
  const frame = useRef(0);
  useEffect(() => {
    const element = props.scroller.current;
    if (!element) return;
    const update = () => {
      cancelAnimationFrame(frame.current);
      frame.current = requestAnimationFrame(() => {
        const first = Math.max(0, Math.floor(element.scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
        const visible = Math.ceil(element.clientHeight / ROW_HEIGHT_PX);
        setRange({ first, last: first + visible + 2 * OVERSCAN_ROWS });
      });
    };
    update();
    element.addEventListener("scroll", update, { passive: true });
    const resize = new ResizeObserver(update);
    resize.observe(element);
    return () => {
      element.removeEventListener("scroll", update);
      resize.disconnect();
      cancelAnimationFrame(frame.current);
    };
  }, [props.scroller]);

  const last = Math.min(props.rows.length, range.last);
  const first = Math.min(range.first, last);
  return (
    <>
      {first > 0 ? (
        <tr class="spacer" style={{ height: `${first * ROW_HEIGHT_PX}px` }}>
          <td colSpan={props.columns} />
        </tr>
      ) : null}
      {props.rows.slice(first, last).map((row, offset) => props.renderRow(row, first + offset))}
      {last < props.rows.length ? (
        <tr class="spacer" style={{ height: `${(props.rows.length - last) * ROW_HEIGHT_PX}px` }}>
          <td colSpan={props.columns} />
        </tr>
      ) : null}
    </>
  );
}
