// One time-series chart (uPlot): lines for averages, the maximum as a band above its average,
// a limit as a dashed line, lifecycle events as vertical markers, drag to zoom.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartSeries {
  label: string;
  /** A CSS colour variable of styles.css, e.g. "--series-1". */
  color: string;
  kind: "line" | "max" | "limit";
  /** For kind "max": the index (in `series`) of the average it is drawn above. */
  bandOf?: number;
}

export interface ChartMarker {
  tsMs: number;
  label: string;
  /** "warn" for deaths and OOM kills, "info" for the rest. */
  tone: "info" | "warn";
}

export interface TimeChartProps {
  title: string;
  /** Seconds since the epoch, then one array per series. */
  data: [number[], ...(number | null)[][]];
  series: ChartSeries[];
  format: (value: number | null) => string;
  markers: ChartMarker[];
  /** The window shown, in ms. */
  fromMs: number;
  toMs: number;
  onZoom: (fromMs: number, toMs: number) => void;
  height?: number;
}

const cssVar = (element: Element, name: string) => getComputedStyle(element).getPropertyValue(name).trim();

function markerPlugin(markers: () => ChartMarker[], element: Element): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (plot) => {
          const { ctx } = plot;
          const { top, height } = plot.bbox;
          ctx.save();
          ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
          // Labels of events close together are staggered over three lines so they stay readable.
          for (const [index, marker] of markers().entries()) {
            const x = Math.round(plot.valToPos(marker.tsMs / 1000, "x", true));
            if (x < plot.bbox.left || x > plot.bbox.left + plot.bbox.width) continue;
            ctx.strokeStyle = cssVar(element, marker.tone === "warn" ? "--danger" : "--accent");
            ctx.fillStyle = ctx.strokeStyle;
            ctx.lineWidth = devicePixelRatio;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillText(
              marker.label,
              x + 3 * devicePixelRatio,
              top + (12 + (index % 3) * 13) * devicePixelRatio,
            );
          }
          ctx.restore();
        },
      ],
    },
  };
}

export function TimeChart(props: TimeChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const scheme = matchMedia("(prefers-color-scheme: dark)");

  // The chart is built once per series layout and colour scheme; data changes only setData.
  const layout = `${props.series.map((s) => `${s.label}:${s.kind}`).join(",")}`;
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const build = () => {
      plotRef.current?.destroy();
      const current = propsRef.current;
      const axisColor = cssVar(element, "--muted");
      const gridColor = cssVar(element, "--grid");
      const series: uPlot.Series[] = [
        {},
        ...current.series.map((s): uPlot.Series => {
          const color = cssVar(element, s.color);
          return {
            label: s.label,
            stroke: color,
            width: s.kind === "line" ? 1.5 : 1,
            ...(s.kind === "limit" ? { dash: [6, 4] } : {}),
            ...(s.kind === "max" ? { fill: `${color}33`, width: 0.5 } : {}),
            value: (_plot, value) => current.format(value),
            spanGaps: false,
          };
        }),
      ];
      const bands: uPlot.Band[] = current.series.flatMap((s, index) =>
        s.kind === "max" && s.bandOf !== undefined
          ? [{ series: [index + 1, s.bandOf + 1] as [number, number], fill: `${cssVar(element, s.color)}33` }]
          : [],
      );
      const options: uPlot.Options = {
        width: element.clientWidth || 600,
        height: current.height ?? 180,
        series,
        bands,
        scales: { x: { time: true, min: current.fromMs / 1000, max: current.toMs / 1000 } },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
          {
            stroke: axisColor,
            grid: { stroke: gridColor, width: 1 },
            ticks: { stroke: gridColor },
            size: 70,
            values: (_plot, values) => values.map((value) => current.format(value)),
          },
        ],
        cursor: { drag: { x: true, y: false, setScale: false } },
        legend: { live: true },
        plugins: [markerPlugin(() => propsRef.current.markers, element)],
        hooks: {
          setSelect: [
            (plot) => {
              if (plot.select.width < 5) return;
              const from = plot.posToVal(plot.select.left, "x") * 1000;
              const to = plot.posToVal(plot.select.left + plot.select.width, "x") * 1000;
              plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              propsRef.current.onZoom(Math.round(from), Math.round(to));
            },
          ],
        },
      };
      plotRef.current = new uPlot(options, current.data as uPlot.AlignedData, element);
    };
    build();
    const resize = new ResizeObserver(() => {
      const plot = plotRef.current;
      if (plot && element.clientWidth > 0 && plot.width !== element.clientWidth) {
        plot.setSize({ width: element.clientWidth, height: propsRef.current.height ?? 180 });
      }
    });
    resize.observe(element);
    scheme.addEventListener("change", build);
    return () => {
      resize.disconnect();
      scheme.removeEventListener("change", build);
      plotRef.current?.destroy();
      plotRef.current = null;
    };
  }, [layout]);

  useEffect(() => {
    const plot = plotRef.current;
    if (!plot) return;
    plot.batch(() => {
      plot.setData(props.data as uPlot.AlignedData, false);
      plot.setScale("x", { min: props.fromMs / 1000, max: props.toMs / 1000 });
    });
  }, [props.data, props.fromMs, props.toMs, props.markers]);

  const points = props.data[0].length;
  // Points where the first series has a value: a chart can have points and nothing to draw.
  const values = (props.data[1] ?? []).filter((value) => value !== null && value !== undefined).length;
  return (
    <figure
      class="chart"
      data-points={points}
      data-values={values}
      data-markers={props.markers.map((m) => m.label).join("|")}
    >
      <figcaption>{props.title}</figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={`${props.title}: ${points} points`} />
      {points === 0 ? <p class="chart-empty">No samples in this window.</p> : null}
    </figure>
  );
}

/** A small line without axes, scaled to its own range: the shape of a trend, for host cards. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  if (values.length < 2) return <span class="sparkline-empty" title={`${label}: not enough samples yet`} />;
  const max = Math.max(...values, 1e-9);
  const min = Math.min(...values);
  const width = 200;
  const height = 20;
  const step = width / (values.length - 1);
  const path = values
    .map(
      (value, index) =>
        `${index === 0 ? "M" : "L"}${(index * step).toFixed(1)},${(height - ((value - min) / (max - min || 1)) * height).toFixed(1)}`,
    )
    .join(" ");
  return (
    <svg
      class="sparkline"
      viewBox={`0 -2 ${width} ${height + 4}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <path d={path} />
    </svg>
  );
}
