// Each test class starts real proxy processes of both builds; one class at a time keeps the 2-core machine's timing sane.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
