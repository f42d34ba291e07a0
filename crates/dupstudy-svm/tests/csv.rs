//! Labelled CSV files: good and malformed.

use dupstudy_svm::SvmError;
use dupstudy_svm::csv::read_csv;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("dupstudy-csv-{name}-{}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn line_of(err: SvmError) -> (usize, String) {
    match err {
        SvmError::Csv { line, message, .. } => (line, message),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn reads_labels_and_features() {
    let path = write("good", "1,0.5,2\n\n-1, -1e-3 ,4\n1,3,-2.5\n");
    let (x, y) = read_csv(&path).unwrap();
    assert_eq!(y, vec![1, -1, 1]);
    assert_eq!(x.dim(), (3, 2));
    assert!((x[[1, 0]] + 1e-3).abs() < 1e-15);
}

#[test]
fn malformed_files_name_the_line() {
    let cases = [
        ("columns", "1,0.5,2\n-1,3\n", 2, "columns"),
        ("number", "1,0.5,2\n-1,abc,4\n", 2, "column 2"),
        ("nan", "1,0.5,2\n-1,1,NaN\n", 2, "column 3"),
        ("label", "1,0.5\n0,1\n", 2, "-1 or 1"),
        ("label-text", "yes,0.5\n", 1, "not a number"),
        ("one-class", "1,0.5\n1,2\n", 0, "both -1 and 1"),
        ("empty", "\n\n", 0, "no data"),
        ("narrow", "1\n", 1, "at least one feature"),
    ];
    for (name, text, line, words) in cases {
        let path = write(name, text);
        let (got_line, message) = line_of(read_csv(&path).unwrap_err());
        assert_eq!(got_line, line, "{name}: {message}");
        assert!(message.contains(words), "{name}: {message}");
        let shown = read_csv(&path).unwrap_err().to_string();
        assert!(shown.contains(&path.display().to_string()), "{shown}");
    }
    let missing = std::path::Path::new("/nonexistent/train.csv");
    assert!(
        read_csv(missing)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/train.csv")
    );
}
