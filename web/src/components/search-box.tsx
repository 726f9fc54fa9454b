import { useEffect, useState } from 'preact/hooks';

/** A search field that reports its value a moment after typing stops. */
export function SearchBox(props: { readonly label: string; readonly onSearch: (text: string) => void; readonly placeholder?: string }) {
  const [text, setText] = useState('');
  const { onSearch } = props;
  useEffect(() => {
    const timer = setTimeout(() => onSearch(text.trim()), 250);
    return () => clearTimeout(timer);
  }, [text]);
  return (
    <div class="search" role="search">
      <label>
        {props.label}{' '}
        <input type="search" value={text} placeholder={props.placeholder} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
    </div>
  );
}
