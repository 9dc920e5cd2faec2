import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/** A time-series chart (uPlot): x in milliseconds, one line per series. */
export function Chart({ title, x, series, height = 180 }: { title: string; x: number[]; series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");
  useEffect(() => {
    if (!box.current) return;
    const opts: uPlot.Options = {
      title,
      width: Math.max(300, box.current.clientWidth || 600),
      height,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))],
      // a single point still gets a readable span of time around it
      scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]) } },
      axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((v) => compact.format(v)) }],
    };
    plot.current = new uPlot(opts, [x.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData, box.current);
    const resize = () => plot.current?.setSize({ width: Math.max(300, box.current?.clientWidth || 600), height });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [title, shape, height]);
  useEffect(() => {
    plot.current?.setData([x.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);
  return <figure class="chart" aria-label={title} data-points={x.length} ref={box} />;
}
